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
pickle), run one subtree at a time and, once none is left to start, the
branches the others' searches give away (work stealing,
checker/worker_process.py), ignore SIGINT and SIGTERM (the coordinator
handles them and asks the workers to stop, so a terminal's Ctrl-C prints no
traceback of theirs), stop when the coordinator dies, and send progress
every half second, so a split search reports live from its first second.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from multiprocessing.connection import wait

from .errors import UsageError, ZsmcError
from .worker_process import rebuild

PROGRESS_EVERY = 0.5
# After the deadline: how long the workers may take to return what they found
# (they check it between executions and every few thousand steps), then how
# long before they are killed.
STOP_GRACE = 1.0
KILL_GRACE = 4.0


class _W:
    """A worker as the coordinator sees it."""

    __slots__ = ("p", "conn", "item", "idle", "asked", "load", "dry")

    def __init__(self, p, conn):
        self.p, self.conn = p, conn
        self.item = None            # the subtree (i, job) it runs, or None
        self.idle = True            # it said it waits for work (at a join, or with none)
        self.asked = False          # a steal request it has not answered
        self.load = 0               # thefts it runs
        self.dry = 0.0              # when it last had nothing to give


class StopFlag:
    """The stop signal of a search's processes: a byte of shared memory, read and
    written without a lock.  (A ``multiprocessing.Event`` takes a lock shared by every
    process in ``is_set()``; a worker killed at a time limit while it held it left
    it held, and the coordinator hung for ever in ``is_set()``.)"""

    __slots__ = ("_v",)

    def __init__(self, ctx):
        self._v = ctx.RawValue("b", 0)

    def is_set(self) -> bool:
        return bool(self._v.value)

    def set(self) -> None:
        self._v.value = 1


class LocalRunner:
    """Jobs on up to ``nproc`` forked processes, which steal branches from each
    other's searches once no subtree is left to start (``steal``, checker/stealing.py).

    ``run(i, job, deadline, stop, on_progress, broker)`` explores one job and
    ``steal(theft, deadline, stop, broker)`` one theft (both run in the
    worker); ``deadline`` is a ``time.time()`` value or None;
    ``on_progress(partial)`` gets ``{(i, job index): (executions, redundant,
    violations)}`` of the running jobs about twice a second.
    """

    def __init__(self, nproc: int, run, deadline=None, on_progress=None, steal=None):
        import multiprocessing
        self.ctx = multiprocessing.get_context("fork")
        self.nproc = nproc
        self.run = run
        self.steal = steal
        self.deadline = deadline
        self.on_progress = on_progress
        self.stop_event = StopFlag(self.ctx)
        self.workers = []
        self.queue = []
        self.partial = {}
        self.killed = []            # (i, job) ended without an answer
        self.died = []              # ((i, job), how): its process died twice (or once while stopping)
        self.retried = set()        # (i, job index) run again after its process died
        self.thefts = {}            # theft id -> [giver, thief or None]
        self.gifts = []             # thefts given, not yet sent to a thief

    # -- workers -----------------------------------------------------------------
    def _spawn(self):
        from .worker_process import worker
        mine, theirs = self.ctx.Pipe()
        others = [w.conn for w in self.workers]
        p = self.ctx.Process(target=worker, args=(theirs, self.run, self.steal, self.stop_event,
                                                   os.getpid(), others), daemon=True)
        p.start()
        theirs.close()
        w = _W(p, mine)
        self.workers.append(w)
        return w

    def _assign(self):
        for w in list(self.workers):
            if self.queue and w.item is None and w.load == 0 and w.idle and w in self.workers:
                self._send(w, self.queue.pop(0))
        while self.queue and len(self.workers) < self.nproc:
            self._send(self._spawn(), self.queue.pop(0))
        while self.steal is not None and len(self.workers) < self.nproc:
            self._spawn()           # idle: it steals

    def _send(self, w, item):
        i, job = item
        w.item = item
        w.idle = False
        self._post(w, ("job", i, job, self.deadline))

    def _balance(self):
        """Idle workers get the branches given, or ask a busy worker for one."""
        if self.steal is None or self.queue or self.stop_event.is_set():
            return
        now = time.monotonic()
        idle = [w for w in self.workers if w.idle]
        for w in idle:
            if not self.gifts:
                break
            if w not in self.workers:
                continue            # died while an earlier message was sent
            theft = self.gifts.pop(0)
            entry = self.thefts.get(theft.id)
            if entry is None:
                continue
            entry[1] = w
            w.idle = False
            w.load += 1
            self._post(w, ("theft", theft, self.deadline))
        wanted = sum(1 for w in self.workers if w.idle) - sum(1 for w in self.workers if w.asked)
        for w in list(self.workers):
            if wanted <= 0:
                break
            if w not in self.workers:
                continue
            if not w.idle and not w.asked and (w.item is not None or w.load) and now - w.dry > 0.05:
                w.asked = True
                self._post(w, ("steal",))
                wanted -= 1

    def _kill(self, w):
        if w.p.is_alive():
            w.p.kill()
        w.p.join(1.0)
        w.conn.close()
        if w in self.workers:
            self.workers.remove(w)
        from .schedulers.steal import Outcome
        for tid, (giver, thief) in list(self.thefts.items()):
            if thief is w and giver in self.workers:
                with contextlib.suppress(OSError):     # a dead giver is found by its own EOF
                    giver.conn.send(("outcome", tid, Outcome("poisoned")))     # it explores it itself
            if thief is w or giver is w:
                del self.thefts[tid]
        self.gifts = [t for t in self.gifts if t.id in self.thefts]

    # -- the interface ------------------------------------------------------------
    def results(self, todo):
        self.queue = list(todo)
        last = time.monotonic()
        while True:
            self._assign()
            self._balance()
            if not self.queue and not any(w.item is not None for w in self.workers):
                return
            by_conn = {w.conn: w for w in self.workers}
            for conn in wait(list(by_conn), timeout=0.05 if self.gifts else 0.25):
                w = by_conn[conn]
                if w not in self.workers:
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
            msg = w.conn.recv()
        except (EOFError, OSError):
            self._died(w)
            return None
        kind = msg[0]
        if kind in ("idle", "busy"):
            w.idle = kind == "idle"
            return None
        if kind == "gift":
            w.asked = False
            theft = msg[1]
            if theft is None:
                w.dry = time.monotonic()
            else:
                self.thefts[theft.id] = [w, None]
                self.gifts.append(theft)
            return None
        if kind == "stolen":
            _, tid, out, err = msg
            w.load -= 1
            entry = self.thefts.pop(tid, None)
            if entry is not None and entry[0] in self.workers:
                self._post(entry[0], ("outcome", tid, out if err is None else ("error", err)))
            return None
        _, i, index, payload = msg
        if kind == "progress":
            self.partial[(i, index)] = payload
            return None
        w.item = None
        self.partial.pop((i, index), None)
        if kind == "error":
            raise rebuild(payload)
        return i, index, payload

    def _post(self, w, msg) -> None:
        """Send ``msg`` to ``w``; a worker that died meanwhile is handled as one (the
        broken pipe was taken for zsmc's own output failing: exit 2)."""
        try:
            w.conn.send(msg)
        except OSError:
            if w in self.workers:
                self._died(w)

    def _died(self, w) -> None:
        """``w``'s process ended without an answer: killed (the OOM killer, a user's kill
        -9), or crashed.  Its subtree runs once more on a new process (a worker's death is
        rarely the subtree's doing); if that dies too, or the search is stopping, the
        subtree is not explored and the coordinator says so (incomplete, exit 3), where
        this once ended the whole check as a zsmc bug (exit 4) with no report.  What it
        stole is handed back to its givers by :meth:`_kill`; what it gave away is
        explored again with its subtree."""
        item = w.item
        w.p.join(1.0)
        how = _how_it_ended(w.p.exitcode)
        self._kill(w)
        if item is None:
            return                  # a thief only: its thefts went back to their givers
        key = (item[0], item[1].index)
        self.partial.pop(key, None)
        if key in self.retried or self.stop_event.is_set():
            self.died.append((item, f"twice, {how}" if key in self.retried else how))
        else:
            self.retried.add(key)
            self.queue.insert(0, item)

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
        for w in [w for w in self.workers if w.item is not None]:
            self.killed.append(w.item)      # no outcome: the coordinator counts it unexplored
            self._kill(w)

    def cancel(self, pred) -> list:
        """Drop the jobs ``pred(i, job)`` selects; returns them."""
        dropped = [item for item in self.queue if pred(*item)]
        self.queue = [item for item in self.queue if not pred(*item)]
        for w in [w for w in self.workers if w.item is not None and pred(*w.item)]:
            dropped.append(w.item)
            self.partial.pop((w.item[0], w.item[1].index), None)
            self._kill(w)
        return dropped

    def stop(self) -> None:
        self.stop_event.set()
        self.queue.clear()

    def drain(self, seconds: float):
        """After :meth:`stop`: what the running jobs found, for at most ``seconds``."""
        end = time.monotonic() + seconds
        while True:
            busy = {w.conn: w for w in self.workers if w.item is not None}
            left = end - time.monotonic()
            if not busy or left <= 0:
                return
            for conn in wait([w.conn for w in self.workers], timeout=left):
                w = next((w for w in self.workers if w.conn is conn), None)
                if w is None:
                    continue
                try:
                    out = self._receive(w)
                except ZsmcError:
                    continue
                if out is not None:
                    yield out

    def close(self) -> None:
        self.stop_event.set()
        for w in list(self.workers):
            if w.item is None and not w.load:
                try:
                    w.conn.send(None)
                except OSError:
                    pass
        for w in list(self.workers):
            w.p.join(0.2 if w.item is None and not w.load else 0)
            self._kill(w)


def _how_it_ended(code) -> str:
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


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
