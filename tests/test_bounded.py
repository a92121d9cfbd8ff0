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
    r = explore_auto_bound(build, properties=[], on_bound=lambda k, res: seen.append((k, res.bound_cut)))
    assert r.complete and r.outcomes == {4}
    # Two tasks of two steps: at most 2 preemptions in any schedule, so bound 2 cuts nothing.
    assert [k for k, _ in seen] == [0, 1, 2] and seen[-1][1] == 0 and seen[0][1] > 0
    assert r.executions == sum(explore(build, scheduler="dfs", properties=[], preemption_bound=k).executions
                               for k in range(3))


def test_budget_says_which_bound_was_covered():
    r = explore_auto_bound(torn_pair(2), properties=[], max_executions=4)
    assert not r.complete and not r.violations
    assert r.bound_covered == 0     # bound 0 has 2 executions, bound 1 did not fit
    assert "budget" in r.reason


def test_max_bound_is_incomplete_not_verified():
    r = explore_auto_bound(torn_pair(2), properties=[], max_bound=0)
    assert not r.complete and r.bound_covered == 0 and "max-bound" in r.reason


def test_bad_max_bound():
    with pytest.raises(UsageError):
        explore_auto_bound(two_cpus(), max_bound=-1)
