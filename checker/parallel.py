"""Split exploration: ``--jobs N``, ``--dask ADDRESS``, ``--checkpoint``/``--resume``.

The tree is cut into subtrees (:mod:`checker.split`: by the tasks' first
choices, disjoint, or at a depth, overlapping), each explored by an ordinary
DPOR search of its own (:func:`run_job`), and the results are joined
(:mod:`checker.merge`).

Properties with state across executions merge after the subtrees
(``Monitor.export_state`` and ``Monitor.merge``, :mod:`checker.merge`): a
lock-order cycle that only the union of the subtrees' graphs has is
reported by replaying the execution that closed it against the graph of
what came before.

A job is a prefix (event keys) and a sleep set, plain data: it runs in a
forked process, on a Dask worker (which rebuilds the program from its
descriptor, ``{"loader": "module:function", "params": ...}``), or again
after ``--resume`` from a checkpoint file that records the finished jobs'
results (:mod:`checker.checkpoint`, JSON).  Each job runs in a context of
its own (:mod:`contextvars`): a Dask worker runs as many at once as it has
threads.

What a split search promises (docs/cli.md, "Split runs"): one wall-clock
budget for the whole search; the subtrees finished within it counted, and
those cut by it, the execution budget or an interrupt make the result
incomplete; with ``stop_on_violation`` each subtree stops at its first
violation and the search reports one, that of the first subtree in plan
order that has one (so it does not depend on the number of processes or on
timing), cancelling the subtrees after it; live progress from the workers.
"""

from __future__ import annotations

import contextvars
import copy
import json
import time

from . import checkpoint as ck
from .budget import Expired, SearchInterrupted, Watchdog, signal_of
from .errors import UsageError
from .explore import explore
from .merge import merge as _merge
from .result import Result
from .schedulers.dpor import DPOR
from .split import Job, split, split_choices  # noqa: F401 - split's API, as this module always had it

# What the coordinator waits for the workers' partial results after Ctrl-C.
INTERRUPT_DRAIN = 2.0


# -- running one job ----------------------------------------------------------------------------
def run_job(build, job: Job, properties=None, stop_on_violation=False, deadline=None, broker=None,
            root=(0, 0), **kwargs):
    """Explore one subtree; returns ``(result, exported monitor state, trace keys)``.

    ``deadline``: a ``time.time()`` value (one budget for every subtree of a
    search, wherever it runs); ``broker``: where the search of a disjoint
    subtree gives branches away (work stealing, checker/stealing.py); other
    arguments go to :func:`explore`.
    """
    from .explore import _build
    from .monitor import select, with_engine
    if deadline is not None:
        left = deadline - time.time()
        if left <= 0:
            return Result(scheduler="dpor", reason="time limit reached before it started"), {}, set()
        kwargs["time_limit"] = left
    if broker is not None and job.disjoint:
        from .stealing import run_stealing
        result, states = run_stealing(build, job.prefix, properties, broker, stop_on_violation,
                                      job.guards, root=root, **kwargs)
        return result, states, set()
    monitors = select(properties, _build(build)).all
    sched = DPOR(job.prefix, trace_keys=not job.disjoint, guards=job.guards)
    try:
        result = explore(build, scheduler=sched, properties=with_engine(properties, monitors),
                         stop_on_violation=stop_on_violation, **kwargs)
    except SearchInterrupted as exc:
        exc.result = (exc.result, _export(monitors), sched.keys or set())
        raise
    return result, _export(monitors), sched.keys or set()


def _export(monitors) -> dict:
    return {m.name: state for m in monitors if (state := m.export_state()) is not None}


# -- the whole search ---------------------------------------------------------------------------
def explore_split(build, jobs: int = 2, properties=None, split_depth=None, dask=None,
                  program=None, checkpoint=None, resume=None, time_limit=None,
                  max_executions=None, stop_on_violation=False, key=None, on_progress=None,
                  max_steps=None) -> Result:
    """Explore ``build`` as independent subtrees on ``jobs`` processes (or a Dask cluster).

    ``dask``: a scheduler address or a ``distributed.Client``; the workers
    rebuild the program from ``program``, ``{"loader": "module:function",
    "params": ...}`` (:func:`checker.trace.load_build`; default: the
    ``loader`` and ``params`` attributes of ``build``, if it has them).
    ``checkpoint``: a file the finished jobs are saved to as they finish
    (locked while in use); ``resume``: such a file, whose split is reused and
    whose finished jobs are not run again (``key``, JSON-able, must be the one
    it was written with).  ``time_limit`` is one budget for the whole search;
    ``max_executions`` stops the search once that many executions are counted
    (each subtree also stops there).  ``on_progress(result)`` gets the counts
    so far about twice a second, ``result.reason`` saying how many subtrees
    are done.  Ctrl-C raises :class:`~checker.budget.SearchInterrupted` with
    the merged partial result.
    """
    if not isinstance(jobs, int) or jobs < 1:
        raise UsageError(f"jobs must be a positive integer, got {jobs!r}")
    start = time.perf_counter()
    deadline = None if time_limit is None else time.time() + time_limit
    if checkpoint is not None:
        ck.check_target(checkpoint)
    if resume is not None and not resume:
        raise UsageError("--resume needs a checkpoint file name, got an empty one")
    lock = ck.CheckpointLock(checkpoint) if checkpoint else None
    if lock is not None:
        lock.acquire()
    try:
        # Planning steps the program too: the deadline holds there as well.
        dog = Watchdog(None if deadline is None else time.perf_counter() + deadline - time.time())
        try:
            # What a checkpoint must match: the caller's key (the CLI's scenario
            # parameters) and the program's first branching.
            ident = _ident(build, key) if checkpoint or resume else None
            if resume:
                plan, done = _load(build, resume, ident)
            else:
                plan = split(build, split_depth) if split_depth is not None else split_choices(build)
                done = {}
        except Expired as exc:
            return Result(scheduler="dpor", reason=f"time limit of {time_limit}s reached inside an "
                                                   f"execution ({exc.where})")
        finally:
            dog.cancel()

        unsaved = []

        def saved(i, index):
            # A checkpoint that cannot be written (a full disk) costs the
            # checkpoint, not the search: said in the result's note.
            if checkpoint and not unsaved:
                try:
                    ck.save(checkpoint, ident, plan, done)
                except UsageError as exc:
                    unsaved.append(str(exc))

        search = _Search([build], [plan], [done], jobs, properties, deadline, max_executions,
                         max_steps, stop_on_violation, on_progress, start, saved)
        search.run(dask, [program or _descriptor(build)] if dask is not None else None)
    finally:
        if lock is not None:
            lock.release()
    total = search.merged(0, time_limit)
    total.scheduler = f"dpor ({len(plan)} subtrees on {_where(jobs, dask)})"
    if unsaved:
        total.note = "; ".join(filter(None, [total.note, f"checkpoint not saved: {unsaved[0]}"]))
    return total


def explore_split_many(builds, jobs: int = 2, properties=None, time_limit=None,
                       max_executions=None, stop_on_violation=False, weights=None,
                       max_steps=None, on_progress=None) -> list:
    """Explore several programs (the scenarios of one ``zsmc check``) as the
    subtrees of all of them on one pool of ``jobs`` forked processes: a core
    that finishes a small scenario's subtree takes the next subtree of any
    scenario, so one large scenario does not leave the other cores idle.

    ``weights``: an estimate of each program's size; subtrees of heavier
    programs are handed out first (longest job first).  Returns one merged
    :class:`Result` per build, in order; Ctrl-C raises SearchInterrupted whose
    ``result`` is that list (partial).
    """
    if not isinstance(jobs, int) or jobs < 1:
        raise UsageError(f"jobs must be a positive integer, got {jobs!r}")
    start = time.perf_counter()
    deadline = None if time_limit is None else time.time() + time_limit
    plans = [split_choices(b) for b in builds]
    order = sorted(range(len(builds)), key=lambda i: -(weights[i] if weights else 0))
    search = _Search(builds, plans, [{} for _ in builds], jobs, properties, deadline, max_executions,
                     max_steps, stop_on_violation, on_progress, start, None, order=order)
    try:
        search.run(None, None)
    except SearchInterrupted as exc:
        exc.result = [search.merged(i, time_limit, shared=True) for i in range(len(builds))]
        raise
    return [search.merged(i, time_limit, shared=True) for i in range(len(builds))]


class _Search:
    """The coordinator of one split search over one or more programs."""

    def __init__(self, builds, plans, dones, jobs, properties, deadline, max_executions, max_steps,
                 stop_on_violation, on_progress, start, on_done, order=None):
        self.builds, self.plans, self.dones = builds, plans, dones
        self.jobs, self.properties, self.deadline = jobs, properties, deadline
        self.max_executions, self.stop_on_violation = max_executions, stop_on_violation
        self.kwargs = {"max_executions": max_executions, "max_steps": max_steps,
                       "stop_on_violation": stop_on_violation}
        self.on_progress, self.start, self.on_done = on_progress, start, on_done
        self.order = order if order is not None else list(range(len(builds)))
        self.skipped = [{} for _ in builds]         # job index -> why it was not explored (fully)
        # Lowest job index with a violation: a resumed checkpoint's finished
        # subtrees count too (the violation it holds is reported again).
        self.first = [min((k for k, out in done.items() if out[0].violations), default=None)
                      if stop_on_violation else None for done in dones]
        self.keys = [set().union(*(out[2] for out in done.values())) for done in dones]
        # the distinct executions of the finished subtrees (a resumed checkpoint's included)
        self.counted = [len(self.keys[i]) + sum(out[0].executions for out in done.values() if not out[2])
                        for i, done in enumerate(dones)]
        self.interrupted = None

    def _run_local(self, i, job, deadline, stop, on_progress, broker=None):
        from . import workers
        return run_job(self.builds[i], job, self.properties, deadline=deadline, stop=stop, broker=broker,
                       root=(i, job.index), on_progress=on_progress, progress_every=workers.PROGRESS_EVERY, **self.kwargs)

    def _steal_local(self, theft, deadline, stop, broker):
        """Explore a branch another worker's search gave away (checker/stealing.py)."""
        from .stealing import run_theft
        kwargs = dict(self.kwargs)
        if deadline is not None:
            left = deadline - time.time()
            if left <= 0:
                from .schedulers.steal import Outcome
                return Outcome("poisoned")
            kwargs["time_limit"] = left
        stop_on_violation = kwargs.pop("stop_on_violation")
        return run_theft(self.builds[theft.root[0]], theft, self.properties, broker, stop_on_violation,
                         stop=stop, **kwargs)

    def run(self, dask, programs) -> None:
        from .workers import DaskRunner, LocalRunner
        todo = []
        for i in self.order:
            for j in self.plans[i]:
                if j.index in self.dones[i]:
                    continue
                if self.first[i] is not None and j.index > self.first[i]:
                    # After a resumed violation, as the run that found it did.
                    self.skipped[i][j.index] = "an earlier subtree found a violation"
                    continue
                todo.append((i, j))
        if dask is not None:
            if programs is None or programs[0] is None:
                raise UsageError("a Dask search needs the program as {'loader': 'module:function', "
                                 "'params': ...} to rebuild it on the workers")
            remote = _DaskJob(programs, self.properties, self.kwargs)
            runner = DaskRunner(dask, remote, self.deadline)
        elif self.jobs == 1 or not todo:
            runner = _InlineRunner(self._run_local, self.deadline, self._partial)
        else:
            steal = self._steal_local if all(j.disjoint for p in self.plans for j in p) else None
            runner = LocalRunner(self.jobs if steal else min(self.jobs, len(todo)), self._run_local,
                                 self.deadline, self._partial, steal)
        try:
            for i, index, out in runner.results(todo):
                self._finished(runner, i, index, out)
            for i, job in runner.killed:
                self.skipped[i][job.index] = "time limit reached (its process did not answer)"
            for (i, job), how in getattr(runner, "died", ()):
                self.skipped[i][job.index] = f"its worker process died ({how})"
        except KeyboardInterrupt as exc:
            self.interrupted = signal_of(exc)
            if isinstance(exc, SearchInterrupted) and isinstance(exc.result, tuple):
                i, job = runner.current
                self.dones[i][job.index] = exc.result         # the inline job's partial outcome
            runner.stop()
            for i, index, out in runner.drain(INTERRUPT_DRAIN):
                self.dones[i][index] = out
            self._skip_rest("interrupted")
            raise SearchInterrupted(self.merged(0, None), self.interrupted) from None
        finally:
            runner.close()
        self._skip_rest("not reached")

    def _skip_rest(self, why) -> None:
        for i, plan in enumerate(self.plans):
            for j in plan:
                if j.index not in self.dones[i]:
                    self.skipped[i].setdefault(j.index, why)

    def _finished(self, runner, i, index, out) -> None:
        self.dones[i][index] = out
        self.keys[i] |= out[2]
        self.counted[i] = len(self.keys[i]) + sum(
            d[0].executions for k, d in self.dones[i].items() if not d[2])
        if self.on_done is not None:
            self.on_done(i, index)
        r = out[0]
        if self.stop_on_violation and r.violations and (self.first[i] is None or index < self.first[i]):
            self.first[i] = index
            for _, job in runner.cancel(lambda bi, job: bi == i and job.index > index):
                self.skipped[i][job.index] = "an earlier subtree found a violation"
        if self.max_executions is not None and self.counted[i] >= self.max_executions:
            for _, job in runner.cancel(lambda bi, job: bi == i):
                self.skipped[i][job.index] = f"execution budget of {self.max_executions} reached"
        self._partial({})

    def _partial(self, running: dict) -> None:
        if self.on_progress is None:
            return
        r = Result(scheduler="dpor")
        for i, plan in enumerate(self.plans):
            r.executions += self.counted[i]
            for out in self.dones[i].values():
                r.redundant += out[0].redundant
                r.violations.extend(out[0].violations)
        for execs, redundant, _ in running.values():
            r.executions += execs
            r.redundant += redundant
        done = sum(len(d) for d in self.dones)
        total = sum(len(p) for p in self.plans)
        r.elapsed = time.perf_counter() - self.start
        r.reason = f"{done} of {total} subtrees explored" + (f", {len(running)} running" if running else "")
        self.on_progress(r)

    def merged(self, i, time_limit, shared=False) -> Result:
        plan, done = self.plans[i], self.dones[i]
        total = _merge(self.builds[i], plan, done, self.properties, first=self.first[i],
                       stop_on_violation=self.stop_on_violation)
        skipped = {k: v for k, v in self.skipped[i].items() if k not in done}
        if skipped:
            total.complete = False
            why = next(iter(skipped.values()))
            if not total.reason:
                total.reason = f"{len(skipped)} of {len(plan)} subtrees not explored ({why})"
        if self.interrupted is not None and not total.violations:
            total.reason = f"interrupted ({_completed(plan, done)} of {len(plan)} subtrees explored completely)"
            total.complete = False
        if not total.complete and time_limit is not None and "time limit" in total.reason:
            inside = next((d[0].reason.split(" reached", 1)[1] for d in done.values()
                           if "inside an execution" in d[0].reason), "")
            total.reason = f"time limit of {time_limit:g}s reached{inside} ({_completed(plan, done)} of " \
                           f"{len(plan)} subtrees explored completely)"
        if shared:
            # The time the workers spent on this program (they ran others too).
            total.elapsed = sum(done[j.index][0].elapsed for j in plan if j.index in done)
            total.scheduler = f"dpor ({len(plan)} subtrees on {_where(self.jobs, None)}, shared by " \
                              f"{len(self.builds)} programs)"
        else:
            total.elapsed = time.perf_counter() - self.start
        return total


def _completed(plan, done) -> int:
    return sum(1 for j in plan if j.index in done and done[j.index][0].complete)


class _InlineRunner:
    """Jobs one after the other in this process (``jobs=1``, or a single job)."""

    def __init__(self, run, deadline, on_partial=None):
        self.run = run
        self.deadline = deadline
        self.on_partial = on_partial
        self.queue = []
        self.killed = []
        self.current = None

    def results(self, todo):
        self.queue = list(todo)
        while self.queue:
            self.current = self.queue.pop(0)
            i, job = self.current
            progress = None
            if self.on_partial is not None:
                def progress(r, i=i, index=job.index):
                    self.on_partial({(i, index): (r.executions, r.redundant, len(r.violations))})
            yield i, job.index, self.run(i, job, self.deadline, None, progress)

    def cancel(self, pred) -> list:
        dropped = [item for item in self.queue if pred(*item)]
        self.queue = [item for item in self.queue if not pred(*item)]
        return dropped

    def stop(self) -> None:
        self.queue.clear()

    def drain(self, seconds):
        return iter(())

    def close(self) -> None:
        pass


def _where(jobs, dask) -> str:
    if dask is not None:
        return "a Dask cluster"
    return f"{jobs} process{'es' if jobs > 1 else ''}"


def _descriptor(build):
    """``{"loader", "params"}`` of a build that carries them (None if it does not)."""
    loader, params = getattr(build, "loader", None), getattr(build, "params", None)
    if isinstance(loader, str) and isinstance(params, dict):
        return {"loader": loader, "params": params}
    return None


class _DaskJob:
    """What a Dask worker runs: rebuild the program from its descriptor, explore a job."""

    def __init__(self, programs, properties, kwargs):
        self.programs, self.properties, self.kwargs = programs, properties, kwargs

    def __call__(self, i, job, deadline):
        # A context of its own: the worker's other threads run other jobs meanwhile.
        return i, job.index, contextvars.Context().run(self._run, i, job, deadline)

    def _run(self, i, job, deadline):
        from .trace import load_build
        # The descriptor is the user's own (never a trace file's): any loader.
        build = load_build(self.programs[i])
        # Monitors of its own too, as a remote worker's unpickled copy would be.
        properties = copy.deepcopy(self.properties)
        return run_job(build, job, properties, deadline=deadline, **self.kwargs)


# -- checkpoints --------------------------------------------------------------------------------
def check_resume(build, resume: str, key=None) -> None:
    """Raise UsageError unless ``resume`` is a checkpoint :func:`explore_split` would
    resume for ``build`` and ``key`` (what the command line checks before it prints
    anything or explores: the same checks, done again when the search loads it)."""
    _load(build, resume, _ident(build, key))


def _ident(build, key) -> str:
    """What a checkpoint must match: the caller's key (the CLI's scenario parameters)
    and the program's first branching."""
    return json.dumps([key, _plan_key(split(build, 1))], default=repr)


def _load(build, resume, ident):
    plan, done = ck.load(resume, ident, Job, replan=lambda saved: _own_plan(build, saved))
    _replay_resumed(build, done, resume)
    return plan, done


def _own_plan(build, saved) -> list:
    """The program's own split of the kind of a checkpoint's plan ``saved``: by first
    choices, or at a depth (that of its longest prefix: shorter ones end there)."""
    if all(j.disjoint for j in saved):
        return split_choices(build)
    return split(build, max(len(j.prefix) for j in saved))


def _replay_resumed(build, done, path) -> None:
    """Each violation a checkpoint holds is replayed before it is reported: its schedule
    must reproduce its property at its step; the replayed violation (its steps and
    message from this run, not the file's) replaces the saved one."""
    from .schedulers.replay import Replay
    from .trace import _properties
    for index, (result, _, _) in sorted(done.items()):
        fresh = []
        for v in result.violations:
            try:
                r = explore(build, scheduler=Replay(v.schedule, before=v.runs or ()),
                            properties=_properties(v.property, None), stop_on_violation=True)
            except UsageError as exc:
                raise UsageError(f"--resume: {path} is a damaged checkpoint (subtree {index}'s "
                                 f"violation does not replay: {exc})") from None
            same = [w for w in r.violations if w.property == v.property and w.step == v.step]
            if not same:
                raise UsageError(f"--resume: {path} is a damaged checkpoint (subtree {index}'s "
                                 f"[{v.property}] violation is not reproduced by its schedule)")
            same[0].execution, same[0].runs = v.execution, v.runs
            fresh.append(same[0])
        result.violations = fresh


def _plan_key(plan) -> str:
    return json.dumps([[list(map(_jsonable, k)) for k in j.prefix] for j in plan], default=repr)


def _jsonable(x):
    return x if isinstance(x, (int, str, float, bool)) or x is None else repr(x)
