"""Subtrees of a split search on worker processes or a Dask cluster.

Both runners have one interface, driven by :mod:`checker.parallel`:

* ``results(todo)``: run the jobs ``todo`` (``(program index, Job)``) and yield
  ``(program index, job index, outcome)`` as they finish;
* ``cancel(pred)``: drop the queued and running jobs ``pred(i, job)`` selects
  (an earlier subtree found the violation; the budget is spent);
* ``stop()`` then ``drain(seconds)``: ask every running job to end now and
  collect what they found (Ctrl-C, SIGTERM, the time limit);
* ``close()``: no process or future outlives the search.

Local workers are forked (the programs' builds are closures that need not
pickle), run one job at a time, ignore SIGINT and SIGTERM (the coordinator
handles them and asks the workers to stop, so a terminal's Ctrl-C prints no
traceback of theirs),
stop when the coordinator dies, and send progress every half second, so a
split search reports live from its first second.
"""

from __future__ import annotations

import contextvars
import os
import signal
import time
from multiprocessing.connection import wait

from .errors import InternalError, ModelError, UsageError, ZsmcError

PROGRESS_EVERY = 0.5
# After the deadline: how long the workers may take to return what they found
# (they check it between executions and every few thousand steps), then how
# long before they are killed.
STOP_GRACE = 1.0
KILL_GRACE = 4.0


class _Stop:
    """What a worker's search polls: the coordinator's stop flag, or the coordinator gone."""

    def __init__(self, event, parent: int):
        self.event = event
        self.parent = parent

    def is_set(self) -> bool:
        return self.event.is_set() or os.getppid() != self.parent


def _portable(exc: BaseException):
    """An exception as plain data (it must cross a pipe whatever it holds)."""
    kind = "model" if isinstance(exc, ModelError) else "usage" if isinstance(exc, UsageError) \
        else "internal" if isinstance(exc, ZsmcError) else "bug"
    return kind, f"{type(exc).__name__}: {exc}" if kind == "bug" else str(exc)


def _rebuild(err):
    kind, message = err
    if kind == "model":
        return ModelError(message)
    if kind == "usage":
        return UsageError(message)
    if kind == "internal":
        return InternalError(message.removeprefix("[zsmc internal bug] "))
    return InternalError(f"a worker process failed: {message}")


def _worker(conn, run, stop_event, parent, others):
    # Ctrl-C and SIGTERM reach the whole process group; the coordinator handles
    # them and asks the workers for what they found (it kills them with SIGKILL).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for c in others:        # the other workers' pipes, inherited by the fork
        c.close()
    stop = _Stop(stop_event, parent)
    while True:
        try:
            while not conn.poll(0.5):
                if os.getppid() != parent:
                    return          # the coordinator is gone
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        i, job, deadline = msg
        try:
            def progress(r, i=i, index=job.index):
                conn.send(("progress", i, index, (r.executions, r.redundant, len(r.violations))))
            # A fresh context: the job numbers its objects as a search of its own.
            out = contextvars.Context().run(run, i, job, deadline, stop, progress)
            conn.send(("done", i, job.index, out))
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the coordinator
            try:
                conn.send(("error", i, job.index, _portable(exc)))
            except (OSError, ValueError):
                return


class LocalRunner:
    """Jobs on up to ``nproc`` forked processes.

    ``run(i, job, deadline, stop, on_progress)`` explores one job (it runs in
    the worker); ``deadline`` is a ``time.time()`` value or None;
    ``on_progress(partial)`` gets ``{(i, job index): (executions, redundant,
    violations)}`` of the running jobs about twice a second.
    """

    def __init__(self, nproc: int, run, deadline=None, on_progress=None):
        import multiprocessing
        self.ctx = multiprocessing.get_context("fork")
        self.nproc = nproc
        self.run = run
        self.deadline = deadline
        self.on_progress = on_progress
        self.stop_event = self.ctx.Event()
        self.workers = []           # [process, connection, (i, job) or None]
        self.queue = []
        self.partial = {}
        self.killed = []            # (i, job) ended without an answer

    # -- workers -----------------------------------------------------------------
    def _spawn(self):
        mine, theirs = self.ctx.Pipe()
        others = [w[1] for w in self.workers]
        p = self.ctx.Process(target=_worker, args=(theirs, self.run, self.stop_event, os.getpid(), others),
                             daemon=True)
        p.start()
        theirs.close()
        w = [p, mine, None]
        self.workers.append(w)
        return w

    def _assign(self):
        for w in self.workers:
            if w[2] is None and self.queue:
                self._send(w, self.queue.pop(0))
        while self.queue and len(self.workers) < self.nproc:
            self._send(self._spawn(), self.queue.pop(0))

    def _send(self, w, item):
        i, job = item
        w[2] = item
        w[1].send((i, job, self.deadline))

    def _kill(self, w):
        p, conn, _ = w
        if p.is_alive():
            p.kill()
        p.join(1.0)
        conn.close()
        if w in self.workers:
            self.workers.remove(w)

    # -- the interface ------------------------------------------------------------
    def results(self, todo):
        self.queue = list(todo)
        last = time.monotonic()
        while True:
            self._assign()
            busy = [w for w in self.workers if w[2] is not None]
            if not busy:
                return
            by_conn = {w[1]: w for w in busy}
            for conn in wait(list(by_conn), timeout=0.25):
                w = by_conn[conn]
                if w not in self.workers or w[2] is None:
                    continue            # cancelled while an earlier answer was handled
                out = self._receive(w)
                if out is not None:
                    yield out
            if self.on_progress is not None and time.monotonic() - last >= PROGRESS_EVERY:
                last = time.monotonic()
                self.on_progress(dict(self.partial))
            self._overtime()

    def _receive(self, w):
        try:
            msg = w[1].recv()
        except (EOFError, OSError):
            item = w[2]
            code = w[0].exitcode
            self._kill(w)
            raise InternalError(f"worker process died (exit code {code}) exploring subtree "
                                f"{item[1].index}") from None
        kind, i, index, payload = msg
        if kind == "progress":
            self.partial[(i, index)] = payload
            return None
        w[2] = None
        self.partial.pop((i, index), None)
        if kind == "error":
            raise _rebuild(payload)
        return i, index, payload

    def _overtime(self):
        """Past the deadline: ask for what was found, then kill who does not answer."""
        if self.deadline is None:
            return
        late = time.time() - self.deadline
        if late < STOP_GRACE:
            return
        self.stop_event.set()
        self.queue.clear()
        if late < STOP_GRACE + KILL_GRACE:
            return
        for w in [w for w in self.workers if w[2] is not None]:
            self.killed.append(w[2])        # no outcome: the coordinator counts it unexplored
            self._kill(w)

    def cancel(self, pred) -> list:
        """Drop the jobs ``pred(i, job)`` selects; returns them."""
        dropped = [item for item in self.queue if pred(*item)]
        self.queue = [item for item in self.queue if not pred(*item)]
        for w in [w for w in self.workers if w[2] is not None and pred(*w[2])]:
            dropped.append(w[2])
            self.partial.pop((w[2][0], w[2][1].index), None)
            self._kill(w)
        return dropped

    def stop(self) -> None:
        self.stop_event.set()
        self.queue.clear()

    def drain(self, seconds: float):
        """After :meth:`stop`: what the running jobs found, for at most ``seconds``."""
        end = time.monotonic() + seconds
        while True:
            busy = {w[1]: w for w in self.workers if w[2] is not None}
            left = end - time.monotonic()
            if not busy or left <= 0:
                return
            for conn in wait(list(busy), timeout=left):
                if busy[conn] not in self.workers:
                    continue
                try:
                    out = self._receive(busy[conn])
                except ZsmcError:
                    continue
                if out is not None:
                    yield out

    def close(self) -> None:
        self.stop_event.set()
        for w in list(self.workers):
            if w[2] is None:
                try:
                    w[1].send(None)
                except OSError:
                    pass
        for w in list(self.workers):
            w[0].join(0.2 if w[2] is None else 0)
            self._kill(w)


def _reachable(address: str, timeout: float) -> None:
    """A refused or unroutable TCP address fails now, not after Dask's retries."""
    import socket
    scheme, sep, rest = address.partition("://")
    if sep and scheme != "tcp":
        return
    host, _, port = (rest if sep else address).rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=min(timeout, 5.0)).close()
    except (OSError, ValueError) as exc:
        raise UsageError(f"--dask {address}: cannot reach the Dask scheduler "
                         f"({getattr(exc, 'strerror', None) or exc})") from None


def _connect(Client, address: str, timeout: float):
    """``Client(address)``, given up after ``timeout`` seconds even when the other end
    accepts the connection and never answers (Dask's own timeout does not cover that)."""
    import threading
    box = {}

    def connect():
        try:
            box["client"] = Client(address, timeout=timeout)
        except BaseException as exc:  # noqa: BLE001 - refused, timed out, malformed: one line
            box["error"] = exc

    t = threading.Thread(target=connect, daemon=True, name="zsmc-dask-connect")
    t.start()
    t.join(timeout + 1.0)
    if "client" in box:
        return box["client"]
    exc = box.get("error")
    why = f"{type(exc).__name__}: {' '.join(str(exc).split())}" if exc is not None else \
        f"no answer within {timeout:.1f}s"
    raise UsageError(f"--dask {address}: cannot reach the Dask scheduler ({why})")


class DaskRunner:
    """Jobs on a Dask cluster: ``client`` an address or a ``distributed.Client``.

    ``run_remote(i, job, deadline)`` runs on a worker (it must pickle).  A job
    running on a worker cannot be stopped from here: :meth:`stop` and
    :meth:`cancel` drop what has not started, and the jobs themselves honour
    the deadline.
    """

    def __init__(self, client, run_remote, deadline=None, connect_timeout=10.0):
        try:
            from distributed import Client
        except ImportError as exc:
            raise UsageError(f"--dask needs the optional extra: pip install 'zsmc[dask]' ({exc})") from None
        self.own = not isinstance(client, Client)
        if self.own:
            if deadline is not None:
                connect_timeout = max(0.5, min(connect_timeout, deadline - time.time()))
            _reachable(client, connect_timeout)
            client = _connect(Client, client, connect_timeout)
        self.client = client
        self.run_remote = run_remote
        self.deadline = deadline
        self.futures = {}
        self.killed = []

    def results(self, todo):
        from distributed import wait as dwait
        for i, job in todo:
            fut = self.client.submit(self.run_remote, i, job, self.deadline, pure=False)
            self.futures[fut] = (i, job)
        while self.futures:
            try:
                done, _ = dwait(list(self.futures), timeout=0.5, return_when="FIRST_COMPLETED")
            except Exception:  # noqa: BLE001 - distributed's TimeoutError: nothing finished yet
                done = ()
            for fut in done:
                item = self.futures.pop(fut, None)
                if item is None or fut.cancelled():
                    continue
                i, index, out = fut.result()
                yield i, index, out
            if self.deadline is not None and time.time() - self.deadline > STOP_GRACE + KILL_GRACE:
                self.killed.extend(self.futures.values())
                self.stop()

    def cancel(self, pred) -> list:
        dropped = [item for fut, item in self.futures.items() if pred(*item)]
        for fut in [f for f, item in self.futures.items() if pred(*item)]:
            fut.cancel()
            del self.futures[fut]
        return dropped

    def stop(self) -> None:
        for fut in self.futures:
            fut.cancel()
        self.futures.clear()

    def drain(self, seconds: float):
        return iter(())

    def close(self) -> None:
        self.stop()
        if self.own:
            try:
                self.client.close(timeout=2)
            except Exception:  # noqa: BLE001, S110 - closing a dead connection: nothing to report
                pass
