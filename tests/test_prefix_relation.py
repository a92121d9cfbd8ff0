"""dpor's race analysis keeps its relation across executions (checker/schedulers/prefix.py):
after every execution it analyses, the relation cut back and extended must be
the one a fresh build over the same steps gives, dictionary order included
(the histories' order is the order races are reversed in)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings

from checker import explore
from checker.schedulers.dpor import DPOR
from checker.schedulers.prefix import PrefixRelation
from model.registry import make_build, variant_for

try:
    from tests.test_engine_differential import MAX_INTERLEAVINGS, SETTINGS, interleaving_bound, make_build as \
        program_build, programs
except ImportError:
    from test_engine_differential import MAX_INTERLEAVINGS, SETTINGS, interleaving_bound, programs
    from test_engine_differential import make_build as program_build


def _state(rel: PrefixRelation) -> tuple:
    d = rel.deps
    return (d.clocks, d.preds, d.prev, d.task_of, d.last_of_task,
            *(list(x.items()) for x in (d.last_w, d.reads, d.last_oc, d.since_oc,
                                        rel.hist, rel.ops, rel.cpu_oc, rel.cpu_all)))


class _Checked(DPOR):
    """dpor, comparing its kept relation with a fresh one after each analysis."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.compared = getattr(self, "compared", 0)
        self.reused = getattr(self, "reused", 0)

    def _reverse_races(self, world):
        kept = self._prefix_relation
        before = len(kept.keys) if kept is not None else 0
        clocks = super()._reverse_races(world)
        fresh = PrefixRelation(len(world.tasks))
        fresh.update(world.sched_events)
        assert _state(self._prefix_relation) == _state(fresh)
        self.compared += 1
        self.reused += before > 0
        return clocks


class _Fresh(DPOR):
    """dpor building its relation anew for every execution (as before it was kept)."""

    def _reverse_races(self, world):
        self._prefix_relation = None
        return super()._reverse_races(world)


def _counts(r) -> tuple:
    return (r.complete, r.executions, r.redundant, r.deadlocks, sorted(map(repr, r.outcomes)),
            sorted((v.property, v.message) for v in r.violations))


def _kept_and_fresh(build, properties=None):
    """The results of dpor keeping its relation (checked at each analysis) and of
    dpor rebuilding it, and the checking scheduler."""
    sched = _Checked()
    kept = explore(build, scheduler=sched, properties=properties, stop_on_violation=False)
    fresh = explore(build, scheduler=_Fresh(), properties=properties, stop_on_violation=False)
    return _counts(kept), _counts(fresh), sched


@settings(SETTINGS, max_examples=80)
@given(programs())
def test_the_kept_relation_is_a_fresh_ones_on_random_programs(spec):
    assume(interleaving_bound(spec[1]) <= MAX_INTERLEAVINGS)
    kept, fresh, sched = _kept_and_fresh(program_build(spec), properties=[])
    assert sched.compared and kept == fresh


@pytest.mark.parametrize("scenario,cpus", [("free-migrate", 2), ("read-compact", 1), ("clients", 2)])
def test_the_kept_relation_is_a_fresh_ones_on_the_model(scenario, cpus):
    kept, fresh, sched = _kept_and_fresh(make_build(variant_for("upstream", None), scenario, 1, cpus)[0])
    assert sched.compared > 1 and sched.reused == sched.compared - 1
    assert kept == fresh
