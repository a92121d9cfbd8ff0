"""Work stealing (checker/schedulers/steal.py, checker/stealing.py): the union of
a search and the branches it gave away is the serial search, execution for
execution.

In one thread (``explore_stealing``: a branch given before every execution,
or every few, explored when it is joined) on the benchmark programs, on
zsmalloc scenarios (with a violation, a race, mixed sections, lock-order's
cross-execution state) and on the differential test's random programs; and
on two and three worker processes (``explore_split``), which steal once no
subtree of the plan is left to start.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings

import bench.programs as P
from checker import explore
from checker.parallel import explore_split, explore_split_many
from checker.schedulers.dpor import DPOR
from checker.stealing import explore_stealing
from model.registry import make_build, variant_for
from tests.test_engine_differential import (MAX_INTERLEAVINGS, SETTINGS, interleaving_bound,
                                            mixed_programs, programs, shares_a_cpu)
from tests.test_engine_differential import make_build as random_build
from tests.test_parallel import lock_order_by_choice


def counts(r):
    return (r.executions, r.redundant, r.deadlocks, r.outcomes, r.violation_count, r.races, r.complete,
            sorted((v.property, v.message) for v in r.violations))


def serial(build, **kw):
    return explore(build, scheduler=DPOR(), stop_on_violation=False, **kw)


def stolen(note) -> int:
    """How many thefts were explored (explore_stealing's note)."""
    return int(note.rsplit(", ", 1)[1].split()[0])


@pytest.mark.parametrize("name,n", [("lastzero", 4), ("readers", 3), ("indexer", 12),
                                    ("philosophers", 3), ("account", 3)])
@pytest.mark.parametrize("every", [1, 3])
def test_stealing_in_one_thread_is_the_serial_search_on_the_benchmark_programs(name, n, every):
    build = P.PROGRAMS[name](n)
    a, b = serial(build, properties=[]), explore_stealing(build, properties=[], every=every)
    assert counts(a) == counts(b)
    if name in ("lastzero", "account"):
        assert stolen(b.note) > 0


SCENARIOS = [("upstream", None, "read-migrate", 1), ("upstream", None, "clients", 1),
             ("upstream", None, "read-compact", 1), ("upstream", "read-end-unlock-first", "up-read-compact", 1),
             ("v5", None, "free-migrate", 1)]


@pytest.mark.parametrize("variant,mutation,scenario,depth", SCENARIOS)
def test_stealing_in_one_thread_is_the_serial_search_on_scenarios(variant, mutation, scenario, depth):
    build, _ = make_build(variant_for(variant, mutation), scenario, depth)
    a, b = serial(build), explore_stealing(build)
    assert counts(a) == counts(b)
    assert stolen(b.note) > 0


def test_stealing_keeps_a_violation_found_by_a_thief():
    build, _ = make_build(variant_for("upstream", "read-end-unlock-first"), "up-read-compact", 1)
    a = serial(build)
    assert a.violations
    for every in (1, 2):
        assert counts(explore_stealing(build, every=every)) == counts(a)


def test_stealing_stops_at_the_serial_search_first_violation():
    build, _ = make_build(variant_for("upstream", "read-end-unlock-first"), "up-read-compact", 1)
    a = explore(build, scheduler=DPOR(), stop_on_violation=True)
    b = explore_stealing(build, stop_on_violation=True)
    assert a.violations and [str(v) for v in b.violations] == [str(v) for v in a.violations]
    assert (b.executions, b.complete) == (a.executions, False)


def test_a_lock_order_cycle_between_a_giver_and_its_thief_is_reported():
    """t takes A then B under one value of a choice, B then A under the other:
    the cycle needs edges from both branches, one of them stolen."""
    build = lock_order_by_choice(other=True)
    a = serial(build, properties=["lock-order"])
    b = explore_stealing(build, properties=["lock-order"])
    assert [v.property for v in a.violations] == ["lock-order"]
    assert [v.property for v in b.violations] == ["lock-order"] and b.violations[0].steps
    assert b.executions == a.executions and stolen(b.note) > 0


def _same_on_random(spec, every, config=None, memory_model=None):
    assume(interleaving_bound(spec[1]) <= MAX_INTERLEAVINGS)
    _same(spec, every, config, memory_model)


def _same(spec, every, config=None, memory_model=None):
    build = random_build(spec, config, memory_model)
    a = serial(build, properties=[])
    b = explore_stealing(build, properties=[], every=every)
    assert counts(a) == counts(b)


@SETTINGS
@given(programs())
def test_stealing_is_the_serial_search_on_random_programs(spec):
    _same_on_random(spec, 1)


@settings(SETTINGS, max_examples=100)
@given(mixed_programs())
def test_stealing_is_the_serial_search_on_random_programs_with_mixed_sections(spec):
    _same_on_random(spec, 2)


@settings(SETTINGS, max_examples=100)
@given(programs().filter(shares_a_cpu))
def test_stealing_is_the_serial_search_on_random_programs_on_preempt_rt(spec):
    _same_on_random(spec, 1, config="rt")


@settings(SETTINGS, max_examples=100)
@given(programs())
def test_stealing_is_the_serial_search_on_random_programs_under_ra(spec):
    _same_on_random(spec, 1, memory_model="ra")


def test_a_dropped_theft_is_the_serial_searchs_redundant_run():
    """A read against two writes under ra: the last branch of a node is a store the read
    cannot take there.  The serial search replays to the node and drops it in a redundant
    run; the thief said "dropped" and the giver skipped it, one redundant run short."""
    _same(('own', ((None, [('read', 'x')]), (None, [('write', 'x', 1), ('write', 'x', 1)]))),
          1, memory_model="ra")


# -- on worker processes ------------------------------------------------------------------------
@pytest.mark.parametrize("jobs", [2, 3])
@pytest.mark.parametrize("scenario,mutation", [("read-migrate", None), ("smoke", None),
                                               ("up-read-compact", "read-end-unlock-first")])
def test_stealing_workers_give_the_serial_counts(scenario, mutation, jobs):
    build, _ = make_build(variant_for("upstream", mutation), scenario, 1)
    a = explore_split(build, jobs=1, stop_on_violation=False)
    b = explore_split(build, jobs=jobs, stop_on_violation=False)
    assert counts(a) == counts(b)


def test_stealing_workers_on_a_one_subtree_program_give_the_serial_counts():
    build = P.PROGRAMS["account"](3)        # no first choice: one subtree, all of it stolen from
    a = explore_split(build, jobs=1, properties=[])
    b = explore_split(build, jobs=2, properties=[])
    assert counts(a) == counts(b)


def test_stealing_workers_over_several_programs_give_each_its_serial_counts():
    builds = [make_build(variant_for("upstream", None), s, 1)[0] for s in ("read-migrate", "clients")]
    builds.append(P.PROGRAMS["account"](3))
    a = [explore_split(b, jobs=1, properties=["bug"]) for b in builds]
    b = explore_split_many(builds, jobs=2, properties=["bug"])
    assert [counts(r) for r in a] == [counts(r) for r in b]


def test_a_theft_the_serial_search_would_not_make_is_explored_again(monkeypatch):
    """lastzero(4): branches given before an earlier branch's races inserted below
    them (or changed the sleep set they were given) are explored again by their
    giver; accepting them as they came back loses traces."""
    from checker.schedulers import steal
    build = P.PROGRAMS["lastzero"](4)
    a = serial(build, properties=[])
    checks = []
    real = steal.StealingDPOR._as_predicted

    def counted(self, node, child, got):
        ok = real(self, node, child, got)
        checks.append(ok)
        return ok
    monkeypatch.setattr(steal.StealingDPOR, "_as_predicted", counted)
    assert counts(explore_stealing(build, properties=[])) == counts(a)
    assert False in checks and True in checks
    monkeypatch.setattr(steal.StealingDPOR, "_as_predicted", lambda *args: True)
    assert explore_stealing(build, properties=[]).executions < a.executions
