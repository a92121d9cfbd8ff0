"""Split search (checker/parallel.py): the union of the subtrees is the serial search.

Executions (distinct traces), outcomes, deadlocks and violations are compared
with the serial ``dpor`` run on the DPOR benchmark programs and on zsmalloc
scenarios, for several cut depths, on one process, on forked processes and
on an in-process Dask cluster; a checkpointed run interrupted after some
subtrees resumes to the same counts.
"""

from __future__ import annotations

import json
import threading

import pytest

import bench.programs as P
from checker import Monitor, Program, SpinLock, Task, choose, explore
from checker.errors import UsageError
from checker.monitor import REGISTRY
from checker.parallel import explore_split, split
from model.registry import make_build, variant_for


def serial(build, **kw):
    return explore(build, scheduler="dpor", stop_on_violation=False, **kw)


def same(a, b):
    assert b.complete and a.complete
    assert b.executions == a.executions
    assert b.outcomes == a.outcomes
    assert b.deadlocks == a.deadlocks
    assert {(v.property, v.message) for v in b.violations} == {(v.property, v.message) for v in a.violations}


PROGRAMS = [("lastzero", 4), ("readers", 3), ("indexer", 12), ("philosophers", 3), ("account", 3)]


# indexer-12 split three deep is 12^3 subtrees of its 8 executions (a minute of the suite
# under load); two deep, and the other programs three deep, split it as well.
SPLITS = [(name, n, depth) for depth in (1, 2, 3) for name, n in PROGRAMS
          if (name, depth) != ("indexer", 3)]


@pytest.mark.parametrize("name,n,depth", SPLITS)
def test_split_program_equals_serial(name, n, depth):
    build = P.PROGRAMS[name](n)
    same(serial(build, properties=[]), explore_split(build, jobs=1, split_depth=depth, properties=[]))


@pytest.mark.parametrize("scenario", ["smoke", "up-read-compact", "read-compact", "read-migrate", "clients"])
def test_split_scenario_equals_serial_on_two_processes(scenario):
    build, _ = make_build(variant_for("upstream", None), scenario, 1)
    same(serial(build), explore_split(build, jobs=2))


def test_split_finds_the_violations_of_a_mutation():
    build, _ = make_build(variant_for("upstream", "read-end-unlock-first"), "up-read-compact", 1)
    a, b = serial(build), explore_split(build, jobs=2, split_depth=2)
    same(a, b)
    assert b.violations


def test_subtrees_cover_the_tree_without_reorderings_of_a_prefix():
    build = P.PROGRAMS["readers"](3)
    prefixes = [tuple(j.prefix) for j in split(build, 2)]
    assert len(prefixes) == len(set(prefixes))
    # readers: the three reads commute, so [r1, r2] and [r2, r1] are one subtree.
    assert ((1, None), (2, None)) in prefixes and ((2, None), (1, None)) not in prefixes


def lock_order_by_choice(other=False):
    """A task takes A then B in one execution and B then A in another (a
    choice); ``other``: a second task, on CPU 1, takes A."""
    def build():
        locks = {"A": SpinLock("A"), "B": SpinLock("B")}

        def task():
            order = yield choose(["AB", "BA"])
            first, second = locks[order[0]], locks[order[1]]
            yield first.acquire()
            yield second.acquire()
            yield second.release()
            yield first.release()

        def take_a():
            yield locks["A"].acquire()
            yield locks["A"].release()
        tasks = [Task(task, name="t", cpu=0)] + ([Task(take_a, name="o", cpu=1)] if other else [])
        return Program(tasks, cpus=len(tasks))
    return build


def test_a_lock_order_cycle_split_across_subtrees_is_reported():
    """lockdep's cycle needs edges of two executions, which a split at the
    choice puts in two subtrees."""
    build = lock_order_by_choice()
    a = serial(build, properties=["lock-order"])
    b = explore_split(build, jobs=1, split_depth=1, properties=["lock-order"])
    assert any(v.property == "lock-order" for v in a.violations)
    assert [v.property for v in b.violations] == ["lock-order"]
    assert b.violations[0].steps        # a replayable execution, not just a message
    # Each subtree alone sees one order only.
    from checker.parallel import run_job
    jobs = split(build, 1)
    assert len(jobs) == 2
    for job in jobs:
        r, _, _ = run_job(build, job, ["lock-order"])
        assert not r.violations


def test_checkpoint_and_resume_give_the_uninterrupted_counts(tmp_path, monkeypatch):
    build, _ = make_build(variant_for("upstream", None), "read-migrate", 1)
    whole = explore_split(build, jobs=1, split_depth=2)
    ck = tmp_path / "ck"
    import checker.parallel as par
    real = par.run_job
    calls = []

    def dying(build, job, *a, **k):
        if len(calls) == 3:
            raise KeyboardInterrupt     # the run is killed after three subtrees
        calls.append(job.index)
        return real(build, job, *a, **k)
    monkeypatch.setattr(par, "run_job", dying)
    with pytest.raises(KeyboardInterrupt):
        explore_split(build, jobs=1, split_depth=2, checkpoint=str(ck))
    saved = json.loads(ck.read_text())         # a checkpoint is JSON: data, never code
    assert saved["format"] == "zsmc-checkpoint" and saved["version"] == 3
    assert sorted(int(k) for k in saved["done"]) == sorted(calls)
    monkeypatch.setattr(par, "run_job", real)
    again = []
    monkeypatch.setattr(par, "run_job", lambda b, j, *a, **k: again.append(j.index) or real(b, j, *a, **k))
    resumed = explore_split(build, jobs=1, split_depth=2, resume=str(ck), checkpoint=str(ck))
    assert not set(again) & set(calls)          # finished subtrees are not run again
    same(whole, resumed)
    assert resumed.redundant == whole.redundant


def test_resume_rejects_another_search(tmp_path):
    ck = tmp_path / "ck"
    build, _ = make_build(variant_for("upstream", None), "read-migrate", 1)
    explore_split(build, jobs=1, split_depth=1, checkpoint=str(ck))
    other, _ = make_build(variant_for("upstream", None), "read-compact", 1)
    with pytest.raises(UsageError, match="another search"):
        explore_split(other, jobs=1, split_depth=1, resume=str(ck))
    (tmp_path / "junk").write_bytes(b"not a checkpoint")
    with pytest.raises(UsageError, match="not a zsmc checkpoint"):
        explore_split(build, jobs=1, split_depth=1, resume=str(tmp_path / "junk"))
    with pytest.raises(UsageError, match="no such checkpoint"):
        explore_split(build, jobs=1, split_depth=1, resume=str(tmp_path / "missing"))


def test_dask_cluster_in_process_equals_serial():
    distributed = pytest.importorskip("distributed")
    build, params = make_build(variant_for("upstream", None), "read-migrate", 1)
    with distributed.LocalCluster(n_workers=2, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        # The workers rebuild the program from its descriptor: given, or carried by the build.
        b = explore_split(build, jobs=2, dask=client, program={"loader": build.loader, "params": params})
        c = explore_split(build, jobs=2, dask=client)
    same(serial(build), b)
    same(serial(build), c)
    assert "Dask" in b.scheduler


class Overlap(Monitor):
    """Holds each subtree's search at its start until two run at once (or 10 s pass):
    proof that a worker runs several explorations at a time."""

    name = "test-overlap"
    cond = threading.Condition()
    running = most = 0

    def on_explore_start(self, program):
        with Overlap.cond:
            Overlap.running += 1
            Overlap.most = max(Overlap.most, Overlap.running)
            Overlap.cond.notify_all()
            Overlap.cond.wait_for(lambda: Overlap.most >= 2, timeout=10)

    def on_explore_end(self, result):
        with Overlap.cond:
            Overlap.running -= 1


def test_a_dask_worker_runs_subtrees_in_threads_at_once():
    """No lock and no --nthreads 1: explorations on one worker's threads run together
    (each in its own context) and count what the serial search counts."""
    distributed = pytest.importorskip("distributed")
    for name, depth in (("read-migrate", 1), ("read-compact", 2)):
        build, _ = make_build(variant_for("upstream", None), name, depth)
        Overlap.most = 0
        with distributed.LocalCluster(n_workers=1, threads_per_worker=4, processes=False,
                                      dashboard_address=None) as cluster, distributed.Client(cluster) as client:
            b = explore_split(build, dask=client, properties=[*REGISTRY, Overlap])
        assert Overlap.most >= 2, name
        same(serial(build), b)


def test_several_scenarios_on_one_pool_equal_their_serial_searches():
    """``zsmc check --jobs N`` over several scenarios: every scenario's subtrees on one
    pool (largest first), each scenario's result the serial one."""
    from checker.parallel import explore_split_many
    cls = variant_for("upstream", None)
    names = ["read-compact", "clients", "up-read-migrate"]
    builds = [make_build(cls, n, 1)[0] for n in names]
    pooled = explore_split_many(builds, jobs=2, weights=[1, 3, 2])
    for b, r in zip(builds, pooled):
        same(serial(b), r)
    # A mutation's violation stays with its own scenario.
    bad = variant_for("upstream", "compact-skips-write-lock")
    builds = [make_build(bad, n, 1)[0] for n in ("read-compact", "up-clients")]
    pooled = explore_split_many(builds, jobs=2)
    assert pooled[0].violations and not pooled[1].violations
    # (A data race and the BUG it allows can come first in different
    # representatives of one trace; the other properties agree.)
    some = {v.property for v in pooled[0].violations} - {"data-race"}
    assert some == {v.property for v in serial(builds[0]).violations} - {"data-race"}


def test_a_broken_guard_in_a_subtree_restarts_that_subtree_without_the_reduction():
    from checker import Var
    from checker.parallel import explore_split

    def build():
        g = SpinLock("g")
        v = Var("v", 0, counter=True, guard=g)

        def locked():
            c = yield choose(["a", "b"])
            yield g.acquire()
            yield v.add(1 if c == "a" else 2)
            yield g.release()

        def racy():
            yield v.read()          # breaks the declaration
        return Program([Task(locked, "L", cpu=0), Task(racy, "R", cpu=1)], cpus=2,
                       observe=lambda: v.value)
    a, b = serial(build), explore_split(build, jobs=1)
    same(a, b)
    assert "guarded sections not reduced" in a.note and "guarded sections not reduced" in b.note


# -- issue 12 part 2: the split search reports what the serial one reports ----------------------
def _cli(*args):
    from clirun import run
    return run(*args)


@pytest.mark.parametrize("mutation,scenario,depth", [
    ("free-drops-pool-lock-early", "read-compact", 2),      # the case: 8 violations, not 1
    ("write-second-half-after-unlock", "read-migrate", 1),
    ("lock-zspage-unlocked-walk", "free-deferred", 1),
])
def test_jobs_report_the_serial_violation_and_completeness(mutation, scenario, depth, tmp_path):
    runs = {}
    for jobs in ("1", "2"):
        res = _cli("check", "--mutation", mutation, "--scenario", scenario, "--depth", str(depth), "--jobs", jobs,
                   "--no-minimize", "--format", "json", "--out", str(tmp_path / jobs))
        assert res.exit_code == 1, res.stderr
        runs[jobs] = json.loads(res.stdout)["scenarios"][0]
    serial, split_ = runs["1"], runs["2"]
    # One violation, the same one: each execution ends at its first violation and the
    # search stops at the first one in subtree order, whatever the number of processes.
    key = lambda s: [(v["property"], v["message"], v["step"]) for v in s["violations"]]  # noqa: E731
    assert len(key(serial)) == 1 and key(split_) == key(serial)
    assert split_["complete"] is serial["complete"] is False
    assert split_["reason"] == serial["reason"] == "stopped at the first violation"
    assert _cli("replay", split_["violations"][0]["trace"]).exit_code == 1


@pytest.mark.parametrize("scenario", ["read-migrate", "clients", "up-read-compact"])
def test_jobs_report_the_serial_counts_redundant_included(scenario):
    runs = [json.loads(_cli("check", "--scenario", scenario, "--jobs", j, "--format", "json").stdout)
            for j in ("1", "2")]
    fields = ("executions", "redundant", "deadlocks", "complete", "reason")
    assert [{k: r["scenarios"][0][k] for k in fields} for r in runs][0] == \
           [{k: r["scenarios"][0][k] for k in fields} for r in runs][1]


def test_a_split_search_reports_progress_before_any_subtree_finishes(monkeypatch):
    import checker.workers as W
    monkeypatch.setattr(W, "PROGRESS_EVERY", 0.05)
    build, _ = make_build(variant_for("upstream", None), "clients", 2)
    seen = []
    r = explore_split(build, jobs=2, on_progress=lambda res: seen.append((res.executions, res.reason)))
    assert r.complete
    early = [(n, why) for n, why in seen if why.startswith("0 of ")]
    assert early and any(n > 0 for n, _ in early), seen[:5]       # running subtrees are counted live


def test_a_serial_search_reports_progress_while_a_subtree_runs(monkeypatch):
    import checker.workers as W
    monkeypatch.setattr(W, "PROGRESS_EVERY", 0.05)
    build, _ = make_build(variant_for("upstream", None), "clients", 2)
    seen = []
    explore_split(build, jobs=1, on_progress=lambda res: seen.append((res.executions, res.reason)))
    assert any(why.startswith("0 of ") and n > 0 for n, why in seen), seen[:5]


def test_the_planners_replay_numbers_new_objects_after_the_programs():
    # Objects made outside any task after build() (uid ("b", n)) must not take the
    # numbers of build()'s own objects in the planner's replay either.
    from checker.split import _replay

    def build():
        lk = SpinLock("l")

        def t():
            yield lk.acquire()
            yield lk.release()
        return Program([Task(t, "t")])

    world = _replay(build, [])
    assert world.program.build_uids >= 1
    assert world._uid() == ("b", world.program.build_uids + 1)


def test_the_stop_flag_crosses_processes_without_a_lock():
    # A multiprocessing.Event's lock, held by a worker killed at a time limit, hung the
    # coordinator in is_set() (red team round 4): the flag is a lock-free shared byte.
    import multiprocessing

    from checker.workers import StopFlag
    ctx = multiprocessing.get_context("fork")
    flag = StopFlag(ctx)
    assert not flag.is_set()
    p = ctx.Process(target=flag.set)
    p.start()
    p.join(10)
    assert p.exitcode == 0 and flag.is_set()
    assert not hasattr(flag, "_cond") and not hasattr(flag._v, "get_lock")
