"""``--preemption-bound auto``: iterative context bounding (checker/bounded.py)."""

from __future__ import annotations

import pytest

from checker import Program, Task, Var, explore
from checker.bounded import explore_auto_bound
from checker.errors import UsageError


def torn_pair(preemptions_needed: int):
    """One CPU; W writes x twice, R reads x and fails on a value it must not see.

    With one preemption needed R fails on reading 1 (W's first write, visible
    only if R preempts W between its writes).  With two, R fails on reading
    1 then 2: W preempted after its first write, then R preempted between
    its reads.
    """
    def build():
        x = Var("x", 0)
        seen = []

        def writer():
            yield x.write(1)
            yield x.write(2)

        def reader():
            a = yield x.read()
            if preemptions_needed == 1:
                seen.append(a)
                assert a != 1, "saw the first write"
                return
            b = yield x.read()
            seen.append((a, b))
            assert (a, b) != (1, 2), "saw both writes"

        return Program([Task(writer, name="W", cpu=0), Task(reader, name="R", cpu=0)], cpus=1,
                       observe=lambda: tuple(seen))
    return build


def two_cpus():
    def build():
        x = Var("x", 0)

        def t():
            yield x.rmw(lambda v: v + 1)
        return Program([Task(t, name="A", cpu=0), Task(t, name="B", cpu=1)], cpus=2,
                       observe=lambda: x.value)
    return build


@pytest.mark.parametrize("needed", [1, 2])
def test_first_violation_has_the_fewest_preemptions(needed):
    r = explore_auto_bound(torn_pair(needed), properties=[])
    assert r.violations and r.violations[0].property == "bug"
    assert r.preemption_bound == needed
    assert r.bound_covered == needed - 1
    assert not r.complete
    # The bound below was clean and complete: a direct check of the claim.
    below = explore(torn_pair(needed), scheduler="dfs", properties=[], preemption_bound=needed - 1)
    assert below.complete and not below.violations


def test_stops_complete_when_a_bound_cuts_nothing():
    r = explore_auto_bound(two_cpus(), properties=[])
    assert r.complete and not r.violations
    assert r.preemption_bound == 0 and r.bound_cut == 0
    assert r.outcomes == explore(two_cpus(), scheduler="dpor", properties=[]).outcomes


def test_a_clean_one_cpu_program_is_covered_bound_by_bound():
    def build():
        x = Var("x", 0)

        def t():
            yield x.rmw(lambda v: v + 1)
            yield x.rmw(lambda v: v + 1)
        return Program([Task(t, name="A", cpu=0), Task(t, name="B", cpu=0)], cpus=1,
                       observe=lambda: x.value)
    seen = []
    r = explore_auto_bound(build, scheduler="dfs", properties=[],
                           on_bound=lambda k, res: seen.append((k, res.bound_cut)))
    assert r.complete and r.outcomes == {4}
    # Two tasks of two steps: at most 2 preemptions in any schedule, so bound 2 cuts nothing.
    assert [k for k, _ in seen] == [0, 1, 2] and seen[-1][1] == 0 and seen[0][1] > 0
    assert r.executions == sum(explore(build, scheduler="dfs", properties=[], preemption_bound=k).executions
                               for k in range(3))
    # dpor: one search, the same outcomes, no bound needed.
    d = explore_auto_bound(build, scheduler="dpor", properties=[])
    assert d.complete and d.outcomes == {4} and d.executions <= r.executions


def test_budget_says_which_bound_was_covered():
    r = explore_auto_bound(torn_pair(2), scheduler="dfs", properties=[], max_executions=4)
    assert not r.complete and not r.violations
    assert r.bound_covered == 0     # bound 0 has 2 executions, bound 1 did not fit
    assert "budget" in r.reason


def test_a_violation_found_before_the_budget_runs_out_is_kept():
    # dpor finds the violation at once; the budget ends the search for its fewest preemptions.
    r = explore_auto_bound(torn_pair(2), scheduler="dpor", properties=[], max_executions=4)
    assert not r.complete and r.violations and r.violations[0].property == "bug"
    assert "violation found" in r.reason


def test_max_bound_is_incomplete_not_verified():
    r = explore_auto_bound(torn_pair(2), properties=[], max_bound=0)
    assert not r.complete and r.bound_covered == 0 and "max-bound" in r.reason


def test_bad_max_bound():
    with pytest.raises(UsageError):
        explore_auto_bound(two_cpus(), max_bound=-1)


# -- dpor under a bound keeps its reduction (issue 12 part 4) ---------------------------------

def _default_builds(depth=1, one_cpu=False):
    from model.registry import SCENARIOS, make_build, variant_for
    cls = variant_for("upstream", None)
    return [(n, make_build(cls, n, depth)[0]) for n, s in SCENARIOS.items()
            if getattr(s, "default", True) and (not one_cpu or s.default_cpus == 1)]


def test_auto_explores_at_most_five_times_the_executions_of_unbounded_dpor():
    for name, build in _default_builds():
        plain = explore(build, scheduler="dpor")
        auto = explore_auto_bound(build, scheduler="dpor")
        assert auto.complete and not auto.violations, name
        assert auto.executions <= 5 * plain.executions, (name, auto.executions, plain.executions)


@pytest.mark.parametrize("k", [0, 1, 2])
def test_a_fixed_bound_keeps_the_reduction_and_dfs_outcomes(k):
    """Every default one-CPU scenario (where preemptions happen), bounded by k: dpor's
    outcomes are dfs's, in at most as many executions as unbounded dpor explores."""
    for name, build in _default_builds(one_cpu=True):
        plain = explore(build, scheduler="dpor", properties=[])
        d = explore(build, scheduler="dpor", properties=[], preemption_bound=k)
        f = explore(build, scheduler="dfs", properties=[], preemption_bound=k)
        assert d.complete and f.complete and d.outcomes == f.outcomes, (name, k)
        assert d.executions <= min(plain.executions, f.executions), (name, k)


def test_the_readme_example_finds_the_bug_with_its_fewest_preemptions():
    from model.registry import make_build, variant_for
    build, _ = make_build(variant_for("upstream", "read-end-unlock-first"), "up-read-compact", 1)
    r = explore_auto_bound(build, scheduler="dpor")
    assert r.violations and r.violations[0].property == "no-free-while-mapped"
    k = r.preemption_bound
    assert r.bound_covered == k - 1 and k >= 1
    below = explore(build, scheduler="dfs", preemption_bound=k - 1, properties=["no-free-while-mapped"])
    assert below.complete and not below.violations           # dfs agrees: none with fewer
    assert sum(1 for s in r.violations[0].steps if s.preemption) == k


def _cli(*args):
    import json

    from click.testing import CliRunner

    import cli
    try:
        runner = CliRunner(mix_stderr=False)  # click 8.1
    except TypeError:
        runner = CliRunner()
    res = runner.invoke(cli.main, [str(a) for a in args], catch_exceptions=False)
    return res.exit_code, json.loads(res.stdout) if res.stdout.startswith("{") else res.stdout


def test_cli_bound_on_a_clean_model_is_plain_dpor_and_complete(tmp_path):
    code, doc = _cli("check", "--depth", "2", "--scenario", "up-read-migrate", "--preemption-bound", "1",
                     "--format", "json", "--out", tmp_path)
    assert code == 0 and doc["status"] == "pass"
    sc = doc["scenarios"][0]
    plain = explore(_default_builds(2, one_cpu=True)[1][1], scheduler="dpor")
    assert sc["complete"] and sc["bound_cut"] == 0 and sc["executions"] == plain.executions


def test_cli_bound_below_the_bug_passes_within_it_and_says_a_bug_lies_beyond(tmp_path):
    code, doc = _cli("check", "--mutation", "read-end-unlock-first", "--scenario", "up-read-compact",
                     "--preemption-bound", "0", "--format", "json", "--out", tmp_path)
    sc = doc["scenarios"][0]
    assert code == 0 and sc["complete"] and sc["bound_cut"] > 0 and "more than 0 preemption" in sc["note"]
    code, doc = _cli("check", "--mutation", "read-end-unlock-first", "--scenario", "up-read-compact",
                     "--preemption-bound", "1", "--no-minimize", "--format", "json", "--out", tmp_path)
    assert code == 1 and doc["scenarios"][0]["violations"][0]["property"] == "no-free-while-mapped"


def test_a_probe_beyond_the_bound_counts_no_execution():
    """Found by bench/fuzz_dpor.py --bound: checking whether a move beyond the bound
    reaches a new state ran it, and a move that ended the execution (a section
    stuck on its CPU: a deadlock) was counted, an outcome with 2 preemptions at
    bound 1.  A probe now counts and reports nothing."""
    from bench.fuzz_dpor import mkbuild
    spec = {"tasks": [([("cas", 0, 0), ("lock", 0, True, 3)], 0), ([("w", 0, 0)], 0),
                      ([("dec", 0, 0), ("inc", 0, 1)], 0)], "ncpu": 1, "nvars": 1, "lockkinds": ["spin", "spin"]}
    build = mkbuild(spec)
    for k in (0, 1, 2):
        f = explore(build, scheduler="dfs", properties=[], preemption_bound=k, stop_on_violation=False)
        d = explore(build, scheduler="dpor", properties=[], preemption_bound=k, stop_on_violation=False)
        assert d.outcomes == f.outcomes and d.deadlocks == f.deadlocks, k
        assert d.max_preemptions <= k


def broken_guard():
    """A guarded Var read without its guard (also used by test_scheduler_contract.py)."""
    from checker import SpinLock
    g = SpinLock("g")
    v = Var("v", 0, counter=True, guard=g)

    def locked():
        yield g.acquire()
        yield v.add(1)
        yield g.release()

    def racy():
        yield v.read()          # breaks the declaration
    return Program([Task(locked, "L", cpu=0), Task(racy, "R", cpu=1)], cpus=2, observe=lambda: v.value)


def test_a_broken_guard_restarts_the_bounded_search_without_the_reduction():
    """Found by bench/fuzz_dpor.py --bound: auto passes a scheduler instance to
    explore, which must be able to start again when a declared guard is broken."""
    build = broken_guard
    from checker.schedulers.bounded_dpor import BoundedDPOR
    for r in (explore_auto_bound(build, scheduler="dpor", properties=[]),
              explore(build, scheduler="dpor", preemption_bound=1, properties=[]),
              explore(build, scheduler=BoundedDPOR(None, auto=True), properties=[])):
        assert r.complete and r.outcomes == {1}
        assert "guarded sections not reduced" in r.note
