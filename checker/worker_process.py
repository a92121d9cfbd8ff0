"""The loop of a forked worker of a split search (checker/workers.py drives it).

A worker runs one subtree of the plan at a time, and *thefts* (branches
another worker's search gave away, checker/stealing.py).  Its searches ask
:class:`ProcessBroker` between executions whether the coordinator wants work
for an idle worker, and give a branch if they have one.  A search that
reaches a branch it gave away waits for the thief's outcome; meanwhile its
worker is idle and runs the thefts it is sent, on top of the waiting search
(a call inside the wait).  No wait is circular: a search waits only for a
theft it gave, which started after it, and a theft on top of another job of
its worker started after that job too, so "waits for" always points to a
younger job, and the youngest runs.

Messages, coordinator -> worker: ``("job", i, job, deadline)``, ``("theft",
theft, deadline)``, ``("steal",)``, ``("outcome", theft id, outcome)``,
``None`` (leave).  Worker -> coordinator: ``("progress"|"done"|"error", i,
job index, payload)`` for subtrees, ``("gift", theft or None)``,
``("stolen", theft id, outcome or None, error)``, ``("idle",)`` (waiting for
work), ``("busy",)`` (a wait that said so ended: its search goes on).
"""

from __future__ import annotations

import contextvars
import os
import signal

from .errors import ModelError, UsageError, ZsmcError


class Stop:
    """What a worker's search polls: the coordinator's stop flag, or the coordinator gone."""

    def __init__(self, event, parent: int):
        self.event = event
        self.parent = parent

    def is_set(self) -> bool:
        return self.event.is_set() or os.getppid() != self.parent


def portable(exc: BaseException):
    """An exception as plain data (it must cross a pipe whatever it holds)."""
    kind = "model" if isinstance(exc, ModelError) else "usage" if isinstance(exc, UsageError) \
        else "internal" if isinstance(exc, ZsmcError) else "bug"
    return kind, f"{type(exc).__name__}: {exc}" if kind == "bug" else str(exc)


def rebuild(err):
    from .errors import InternalError
    kind, message = err
    if kind == "model":
        return ModelError(message)
    if kind == "usage":
        return UsageError(message)
    if kind == "internal":
        return InternalError(message.removeprefix("[zsmc internal bug] "))
    return InternalError(f"a worker process failed: {message}")


class _Leave(Exception):
    """The coordinator is gone or said so."""


class ProcessBroker:
    """One per worker process: the searches on its stack share it."""

    def __init__(self, conn, run, steal, stop):
        self.conn, self.run, self.steal, self.stop = conn, run, steal, stop
        self.wanted = False
        self.outcomes = {}
        self.unwanted = set()       # thefts whose outcome nobody will join
        self.work = []              # messages with work, not yet started

    # -- the broker interface (checker/stealing.py) -----------------------------
    def asked(self) -> bool:
        conn = self.conn
        while conn.poll(0):
            self._take(conn.recv())
        while self.work:
            # Sent while it was saying it waited: run it now, on top of this search
            # (younger than it, so no wait becomes circular).
            self._start(self.work.pop(0))
        return self.wanted

    def give(self, theft) -> None:
        self.wanted = False
        self.conn.send(("gift", theft))

    def join(self, tid):
        idle = False
        while tid not in self.outcomes:
            if self.stop.is_set():
                return None
            if self.wanted:
                self._decline()
            if self.work:
                self._start(self.work.pop(0))
                idle = False
                continue
            if not idle:
                self.conn.send(("idle",))
                idle = True
            if self.conn.poll(0.2):
                self._take(self.conn.recv())
        if idle:
            self.conn.send(("busy",))       # its search goes on: the coordinator may ask it again
        out = self.outcomes.pop(tid)
        if isinstance(out, tuple):
            raise rebuild(out[1])
        return out

    def cancel(self, ids) -> None:
        for tid in ids:
            if self.outcomes.pop(tid, None) is None:
                self.unwanted.add(tid)

    # -- the loop ----------------------------------------------------------------
    def serve(self, parent: int) -> None:
        while True:
            while not self.work:
                if self.wanted:
                    self._decline()
                if self.conn.poll(0.5):
                    self._take(self.conn.recv())
                elif os.getppid() != parent:
                    return
            self._start(self.work.pop(0))
            self.conn.send(("idle",))

    def _take(self, msg) -> None:
        if msg is None:
            raise _Leave()
        kind = msg[0]
        if kind == "steal":
            self.wanted = True
        elif kind == "outcome":
            if msg[1] in self.unwanted:
                self.unwanted.discard(msg[1])
            else:
                self.outcomes[msg[1]] = msg[2]
        else:
            self.work.append(msg)

    def _decline(self) -> None:
        self.wanted = False
        self.conn.send(("gift", None))

    def _start(self, msg) -> None:
        conn = self.conn
        if msg[0] == "job":
            _, i, job, deadline = msg

            def progress(r, i=i, index=job.index):
                conn.send(("progress", i, index, (r.executions, r.redundant, len(r.violations))))
            try:
                # A fresh context: the job numbers its objects as a search of its own.
                out = contextvars.Context().run(self.run, i, job, deadline, self.stop, progress, self)
                _after_job()
                conn.send(("done", i, job.index, out))
            except _Leave:
                raise
            except BaseException as exc:  # noqa: BLE001 - everything goes back to the coordinator
                conn.send(("error", i, job.index, portable(exc)))
            return
        _, theft, deadline = msg
        try:
            out = contextvars.Context().run(self.steal, theft, deadline, self.stop, self)
            _after_job()
            conn.send(("stolen", theft.id, out, None))
        except _Leave:
            raise
        except BaseException as exc:  # noqa: BLE001 - the giver raises it at the join
            conn.send(("stolen", theft.id, None, portable(exc)))


# Run in a worker after each job or theft, before its result is sent: each raises what
# its owner noticed behind the engine's back (cli.session: a model's posix.fork(), whose
# child was ended; the worker's result then came back as if nothing had happened).
AFTER_JOB: list = []


def _after_job() -> None:
    for check in AFTER_JOB:
        check()


def worker(conn, run, steal, stop_event, parent, others):
    """A forked worker's body (``run``: a subtree, ``steal``: a theft)."""
    # Ctrl-C, SIGTERM and SIGHUP reach the whole process group; the coordinator handles
    # them and asks the workers for what they found (it kills them with SIGKILL).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    for c in others:        # the other workers' pipes, inherited by the fork
        c.close()
    broker = ProcessBroker(conn, run, steal, Stop(stop_event, parent))
    try:
        broker.serve(parent)
    except (_Leave, EOFError, OSError):
        return
