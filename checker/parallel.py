"""Split exploration: ``--jobs N``, ``--dask ADDRESS``, ``--checkpoint``/``--resume``.

By default the tree is split on the values of the tasks' first choices
(:func:`split_choices`): disjoint subtrees, each trace explored once.  The
general cut, at a depth (``split_depth``), is described next; its subtrees
overlap.

The DPOR tree is cut at a small depth into independent subtrees (Simsa,
Bryant and Gibson, "Scalable Dynamic Partial Order Reduction", RV 2012, do it
across machines).  Above the cut the splitter branches on every enabled step,
pruning with sleep sets only prefixes that are reorderings of earlier ones
(``[b, a]`` after ``[a, b]`` for independent ``a``, ``b``: the same subtree).
Below it each subtree is an ordinary optimal DPOR search of the executions
that start with its prefix (``DPOR(prefix)``), complete on its own.

Why not the sleep sets of the serial search at each subtree's root, which
would make the subtrees disjoint?  Optimal DPOR's sleep sets are only sound
together with the wakeup sequences the serial search inserts at the root,
sequences that guide a subtree to the trace a race elsewhere asks for; a
subtree explored without them loses traces (``bench.programs`` ``readers(3)``
split at depth 1 lost one).  So subtrees overlap: a trace whose first steps
can be taken in several orders is explored in each subtree it starts.  Each
subtree reports a key of every trace it explored (its events and vector
clocks), and the union counts each trace once: ``executions`` is the number
of distinct traces, the serial search's count (tested), and the repeats are
counted in ``redundant``.

Properties with state across executions merge after the subtrees: the
lock-order graphs of all subtrees are joined in subtree order, and a cycle
that only the union has is reported by replaying the execution that closed
it against the graph of what came before (``Monitor.export_state``).

A job is a prefix (event keys) and a sleep set, plain data: it runs in a
forked process, on a Dask worker (which rebuilds the program from the
scenario parameters), or again after ``--resume`` from a checkpoint file that
records the finished jobs' results.
"""

from __future__ import annotations

import itertools
import json
import os
import pickle
import threading
import time
from dataclasses import dataclass

from . import actions as A
from .errors import UsageError
from .explore import explore
from .result import Result
from .schedulers.dpor import DPOR, event_fp
from .schedulers.wakeup import dep
from .world import World

CHECKPOINT_FORMAT = "zsmc-checkpoint"
CHECKPOINT_VERSION = 1


@dataclass
class Job:
    """One subtree: the steps leading to it and the sleep set at its root.

    ``guards``: whether the subtree's search may use the guarded-sections
    reduction; a cut by depth names its prefix step by step, so its subtrees
    are searched step by step too (a macro step would eat the prefix's next
    step).  The first choices of tasks are single steps either way.
    """

    index: int
    prefix: list
    guards: bool = True


# -- splitting ---------------------------------------------------------------------------------
def split(build, depth: int) -> list:
    """The subtrees below every ``depth``-step prefix (fewer where an execution ends).

    Branching above the cut is complete: every enabled step (every value of a
    choice) not asleep, in task order, with the sleep sets of a sleep-set
    search, so the subtrees cover every trace once.
    """
    if not isinstance(depth, int) or depth < 0:
        raise UsageError(f"split depth must be a non-negative integer, got {depth!r}")
    jobs = []

    def expand(prefix, sleep):
        world = _replay(build, prefix, guards=False)
        en = world.enabled()
        if len(prefix) >= depth or not en:
            jobs.append(Job(len(jobs), list(prefix), guards=False))
            return
        done = {}
        for t in en:
            a = world.tasks[t].pending
            for v in (a.arg if a.op == A.CHOOSE else (None,)):
                key = (t, v)
                if key in sleep:
                    continue
                ev = _replay(build, prefix + [key], guards=False).sched_events[-1]
                fp = event_fp(ev)
                below = {k: f for k, f in {**sleep, **done}.items() if not dep(f, fp)}
                expand(prefix + [key], below)
                done[key] = fp

    expand([], {})
    return jobs


def split_choices(build) -> list:
    """One subtree per combination of the values of the tasks' first choices.

    Only tasks that start with a ``choose()`` and have a CPU of their own: such
    a choice is independent of every other step and always enabled, so every
    trace has it as a weak initial, and the traces with different values are
    different.  The subtrees are therefore disjoint and cover the tree: no
    trace is explored twice (unlike a cut by depth).
    """
    world = _replay(build, [])
    branching = [t for t in world.tasks if not t.finished and t.pending.op == A.CHOOSE
                 and not world.shared_cpu[t.cpu]]
    if not branching:
        return [Job(0, [])]
    combos = itertools.product(*[[(t.index, v) for v in t.pending.arg] for t in branching])
    return [Job(i, list(c)) for i, c in enumerate(combos)]


def _replay(build, prefix, guards=True) -> World:
    from .explore import _build
    world = World(_build(build), macro=DPOR.macro, guards=guards)
    for t, v in prefix:
        world.step(t, v)
    return world


# -- running one job ----------------------------------------------------------------------------
def run_job(build, job: Job, properties=None, stop_on_violation=False, **kwargs):
    """Explore one subtree; returns ``(result, exported monitor state, trace keys)``."""
    from .explore import _build
    from .monitor import select
    monitors = select(properties, _build(build)).all
    sched = DPOR(job.prefix, trace_keys=True, guards=getattr(job, "guards", True))
    result = explore(build, scheduler=sched, properties=monitors,
                     stop_on_violation=stop_on_violation, **kwargs)
    state = {m.name: m.export_state() for m in monitors if hasattr(m, "export_state")}
    return result, state, sched.keys


# Forked workers inherit the builds (closures: they need not pickle).
_FORKED = {}


def _forked_job(item):
    builds, properties, kwargs = _FORKED["ctx"]
    i, job = item
    return i, job.index, run_job(builds[i], job, properties, **kwargs)


def _run_local(builds, todo, jobs, properties, kwargs):
    """Run the jobs ``todo`` (``(build index, job)``) here or on ``jobs`` forked
    processes; yields ``(build index, job index, run_job's result)`` as they finish."""
    if jobs == 1 or len(todo) <= 1:
        for i, job in todo:
            yield i, job.index, run_job(builds[i], job, properties, **kwargs)
        return
    import multiprocessing
    _FORKED["ctx"] = (builds, properties, kwargs)
    try:
        with multiprocessing.get_context("fork").Pool(min(jobs, len(todo))) as pool:
            yield from pool.imap_unordered(_forked_job, todo)
    finally:
        _FORKED.clear()


# -- the whole search ---------------------------------------------------------------------------
def explore_split(build, jobs: int = 2, properties=None, split_depth=None, dask=None,
                  params=None, checkpoint=None, resume=None, time_limit=None,
                  max_executions=None, stop_on_violation=False, key=None, on_progress=None) -> Result:
    """Explore ``build`` as independent subtrees on ``jobs`` processes (or a Dask cluster).

    ``dask``: a scheduler address or a ``distributed.Client``; the workers
    rebuild the program from ``params`` (``model.registry.build_from_params``).
    ``checkpoint``: a file the finished jobs are saved to as they finish;
    ``resume``: such a file, whose split is reused and whose finished jobs
    are not run again (``key``, JSON-able, must be the one it was written with).  ``time_limit`` and
    ``max_executions`` apply to each subtree (a subtree cut by one makes the
    result incomplete).  ``on_progress(result)`` gets the merged counts after
    each subtree, ``result.reason`` saying how many of how many are done.
    """
    if not isinstance(jobs, int) or jobs < 1:
        raise UsageError(f"jobs must be a positive integer, got {jobs!r}")
    start = time.perf_counter()
    # What a checkpoint must match: the caller's key (the CLI's scenario
    # parameters) and the program's first branching.
    ident = json.dumps([key, _plan_key(split(build, 1))], default=repr)
    if resume:
        plan, done = _load_checkpoint(resume, ident)
    else:
        plan = split(build, split_depth) if split_depth is not None else split_choices(build)
        done = {}
    todo = [j for j in plan if j.index not in done]
    kwargs = {"time_limit": time_limit, "max_executions": max_executions,
              "stop_on_violation": stop_on_violation}
    for index, out in _run(build, todo, jobs, properties, kwargs, dask, params):
        done[index] = out
        if checkpoint:
            _save_checkpoint(checkpoint, ident, plan, done)
        if on_progress is not None:
            so_far = _merge(build, [j for j in plan if j.index in done], done, properties, cross=False)
            so_far.elapsed = time.perf_counter() - start
            so_far.reason = f"{len(done)} of {len(plan)} subtrees explored"
            on_progress(so_far)
    total = _merge(build, plan, done, properties)
    total.elapsed = time.perf_counter() - start
    total.scheduler = f"dpor ({len(plan)} subtrees on {_where(jobs, dask)})"
    return total


def explore_split_many(builds, jobs: int = 2, properties=None, time_limit=None,
                       max_executions=None, stop_on_violation=False, weights=None) -> list:
    """Explore several programs (the scenarios of one ``zsmc check``) as the
    subtrees of all of them on one pool of ``jobs`` forked processes: a core
    that finishes a small scenario's subtree takes the next subtree of any
    scenario, so one large scenario does not leave the other cores idle.

    ``weights``: an estimate of each program's size; subtrees of heavier
    programs are handed out first (longest job first).  Returns one merged
    :class:`Result` per build, in order.
    """
    if not isinstance(jobs, int) or jobs < 1:
        raise UsageError(f"jobs must be a positive integer, got {jobs!r}")
    plans = [split_choices(b) for b in builds]
    order = sorted(range(len(builds)), key=lambda i: -(weights[i] if weights else 0))
    todo = [(i, job) for i in order for job in plans[i]]
    kwargs = {"time_limit": time_limit, "max_executions": max_executions,
              "stop_on_violation": stop_on_violation}
    done = [{} for _ in builds]
    for i, index, out in _run_local(builds, todo, jobs, properties, kwargs):
        done[i][index] = out
    results = []
    for b, plan, d in zip(builds, plans, done):
        total = _merge(b, plan, d, properties)
        # The time the workers spent on this program (they ran others too).
        total.elapsed = sum(d[j.index][0].elapsed for j in plan)
        total.scheduler = f"dpor ({len(plan)} subtrees on {_where(jobs, None)}, shared by {len(builds)} programs)"
        results.append(total)
    return results


def _where(jobs, dask) -> str:
    if dask is not None:
        return "a Dask cluster"
    return f"{jobs} process{'es' if jobs > 1 else ''}"


def _run(build, todo, jobs, properties, kwargs, dask, params):
    if dask is not None:
        yield from _run_dask(todo, properties, kwargs, dask, params)
        return
    for _, index, out in _run_local([build], [(0, job) for job in todo], jobs, properties, kwargs):
        yield index, out


def _run_dask(todo, properties, kwargs, dask, params):
    if params is None:
        raise UsageError("a Dask search needs the scenario parameters to rebuild the program on workers")
    try:
        from distributed import Client, as_completed
    except ImportError as exc:
        raise UsageError(f"--dask needs the optional extra: pip install 'zsmc[dask]' ({exc})") from exc
    own = not isinstance(dask, Client)
    client = Client(dask) if own else dask
    try:
        futures = [client.submit(_dask_job, params, job, properties, kwargs, pure=False) for job in todo]
        for fut in as_completed(futures):
            yield fut.result()
    finally:
        if own:
            client.close()


# An exploration uses process-wide state (the uid source of the objects being
# built), so a Dask worker with several threads runs one subtree at a time;
# parallelism comes from worker processes (dask worker --nthreads 1 --nworkers N).
_ONE_AT_A_TIME = threading.Lock()


def _dask_job(params, job, properties, kwargs):
    from model.registry import build_from_params
    with _ONE_AT_A_TIME:
        build = build_from_params(params)
        return job.index, run_job(build, job, properties, **kwargs)


# -- merging ------------------------------------------------------------------------------------
def _merge(build, plan, done, properties, cross=True) -> Result:
    total = Result(scheduler="dpor")
    total.complete = True
    seen = set()
    reasons = []
    traces = set()
    for job in plan:
        r, _, keys = done[job.index]
        traces |= keys
        violations = r.violations
        r.violations = []
        total.absorb(r)
        for v in violations:
            if (v.property, v.message) not in seen:
                seen.add((v.property, v.message))
                total.violations.append(v)
        if not r.complete and r.reason:
            total.complete = False
            reasons.append(r.reason)
    runs = total.executions
    total.executions = len(traces)
    total.deadlocks = sum(1 for _, deadlocked in traces if deadlocked)
    total.redundant += runs - len(traces)
    for v in (_cross_subtree_violations(build, plan, done, properties) if cross else ()):
        if (v.property, v.message) not in seen:
            seen.add((v.property, v.message))
            total.violations.append(v)
            total.violation_count += 1
    if reasons:
        total.reason = f"{len(reasons)} of {len(plan)} subtrees incomplete: {reasons[0]}"
    if total.violations and total.complete:
        total.reason = ""
    return total


def _cross_subtree_violations(build, plan, done, properties):
    """Lock-order cycles that only the union of the subtrees' graphs closes."""
    states = [done[j.index][1].get("lock-order") for j in plan]
    if not any(states):
        return []
    from properties.lock_order import LockOrder
    from properties.lockdep_graph import LockGraph

    from .schedulers.replay import Replay
    merged = LockGraph()
    out = []
    for state in states:
        for prev, nxt, kind, edge in state or ():
            before = merged.copy()
            if merged.add(prev, nxt, kind, edge) is None:
                continue
            monitor = LockOrder(seed=before)
            replay = Replay(edge.schedule)
            r = explore(build, scheduler=replay, properties=[monitor], stop_on_violation=True)
            out.extend(r.violations)
    return out


# -- checkpoints --------------------------------------------------------------------------------
def _plan_key(plan) -> str:
    return json.dumps([[list(map(_jsonable, k)) for k in j.prefix] for j in plan], default=repr)


def _jsonable(x):
    return x if isinstance(x, (int, str, float, bool)) or x is None else repr(x)


def _save_checkpoint(path, ident, plan, done) -> None:
    doc = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "search": ident,
           "plan": [(j.index, j.prefix, j.guards) for j in plan], "done": done}
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        pickle.dump(doc, f)
    os.replace(tmp, path)       # a crash mid-write leaves the previous checkpoint


def _load_checkpoint(path, ident):
    try:
        with open(path, "rb") as f:
            doc = pickle.load(f)
    except FileNotFoundError:
        raise UsageError(f"--resume: no such checkpoint file: {path}") from None
    except Exception as exc:  # noqa: BLE001 - unpickling junk raises anything
        raise UsageError(f"--resume: {path} is not a zsmc checkpoint ({type(exc).__name__})") from None
    if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
        raise UsageError(f"--resume: {path} is not a zsmc checkpoint")
    if doc.get("version") != CHECKPOINT_VERSION:
        raise UsageError(f"--resume: {path} is checkpoint version {doc.get('version')}, "
                         f"this zsmc reads version {CHECKPOINT_VERSION}")
    if doc.get("search") != ident:
        raise UsageError(f"--resume: {path} was written for another search (other scenario, "
                         "depth, variant or mutation)")
    return [Job(e[0], list(e[1]), *e[2:]) for e in doc["plan"]], dict(doc["done"])
