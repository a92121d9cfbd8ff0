"""explore() is re-entrant: no process-wide state (checker.objects.making).

The numbering of objects, which DPOR compares across executions, belongs to
the exploration of the running context: an exploration nested in a build
function, or running in another thread, or a Stepper's engine thread, counts
exactly what it counts alone.
"""

from __future__ import annotations

import sys
import threading

import pytest

import bench.programs as P
from checker import Var, explore
from checker.stepper import Stepper
from model.registry import make_build, variant_for


def counts(r):
    return (r.complete, r.executions, r.redundant, r.deadlocks, r.pruned, tuple(sorted(map(repr, r.outcomes))),
            tuple(sorted((v.property, v.message) for v in r.violations)))


def zsmalloc(scenario):
    return make_build(variant_for("upstream", None), scenario, 1)[0]


# Objects made by build() and by the tasks (zs_malloc's zspages), with and without a finding.
# The mutant's search stops at its first violation: run to the end, its 122 executions each
# nest a whole search (a minute of the suite under load) and test nothing more.
CASES = [
    ("lastzero", lambda: P.PROGRAMS["lastzero"](4), [], False),
    ("malloc-free", lambda: zsmalloc("malloc-free"), None, False),
    ("read-compact", lambda: zsmalloc("read-compact"), None, False),
    ("mutant", lambda: make_build(variant_for("upstream", "compact-skips-write-lock"), "read-compact", 1)[0],
     None, True),
]


@pytest.mark.parametrize("name,make,props,stop", CASES, ids=[c[0] for c in CASES])
def test_an_exploration_nested_in_a_build_function_changes_neither(name, make, props, stop):
    outer, inner = make(), P.PROGRAMS["indexer"](12)
    alone = counts(explore(outer, properties=props, stop_on_violation=stop))
    assert alone[-1] if name == "mutant" else not alone[-1]
    inner_alone = counts(explore(inner, properties=[]))
    nested = []
    uids = []

    def build():
        nested.append(counts(explore(inner, properties=[])))     # before the outer build's objects
        program = outer()
        uids.append(Var("after", 0).uid)
        return program
    assert counts(explore(build, properties=props, stop_on_violation=stop)) == alone
    assert set(nested) == {inner_alone}
    assert len(set(uids)) == 1 and uids[0][0] == "b"      # numbered by the outer build, as alone


@pytest.fixture
def switchy():
    """Threads switch every microsecond: two explorations interleave step by step."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def test_explorations_in_two_threads_count_what_they_count_alone(switchy):
    makes = [(make, props) for _, make, props, _ in CASES]
    alone = [counts(explore(make(), properties=props, stop_on_violation=False)) for make, props in makes]
    out = [None] * len(makes)
    errors = []
    start = threading.Barrier(len(makes))

    def run(i, make, props):
        try:
            build = make()
            start.wait()
            for _ in range(3):
                r = counts(explore(build, properties=props, stop_on_violation=False))
                out[i] = r if out[i] in (None, r) else ("differs", out[i], r)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
    threads = [threading.Thread(target=run, args=(i, *m)) for i, m in enumerate(makes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert out == alone


def _uids_of(stepper):
    return [(e.task, e.action.describe(), getattr(e.action.obj, "uid", None)) for e in stepper.world.events]


def test_two_steppers_stepped_in_turn_number_their_objects_as_alone():
    """Two Steppers' engine threads alive at once, each World numbering the
    objects its tasks make (zs_malloc's zspages)."""
    build = zsmalloc("malloc-free")

    def first(world, enabled):
        return enabled[0], world.choices(enabled[0])[0]

    with Stepper(build) as solo:
        solo.run(first)
        want = _uids_of(solo)
    with Stepper(build) as a, Stepper(build) as b:
        while not (a.ended and b.ended):
            for s in (a, b):
                if not s.ended:
                    t = s.enabled[0]
                    s.step(t, s.world.choices(t)[0])
        assert _uids_of(a) == _uids_of(b) == want
