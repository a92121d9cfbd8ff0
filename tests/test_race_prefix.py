"""The race detector kept across executions (checker/race_prefix.py): at the end of
every execution, the kept detector (cut back to that execution's steps) must be
the detector a fresh run over the same steps gives, and must have found the
same things, on the differential fuzzer's random programs (plain accesses,
refcounted memory freed by puts) and on the model (with a mutation whose use
after free the detector reports)."""

from __future__ import annotations

import copy
from contextlib import contextmanager

import pytest
from hypothesis import assume, given, settings

from checker import explore
from checker.race_prefix import rewind
from checker.races import RaceDetector
from model.registry import make_build, variant_for

try:
    from tests.test_engine_differential import MAX_INTERLEAVINGS, SETTINGS, interleaving_bound, \
        make_build as program_build, mixed_programs, programs
except ImportError:
    from test_engine_differential import MAX_INTERLEAVINGS, SETTINGS, interleaving_bound, \
        mixed_programs, programs
    from test_engine_differential import make_build as program_build

_FINDINGS = ("data-race", "no-free-while-mapped", "atomic-order")


class _View:
    """The World as a fresh detector sees it, its findings kept apart."""

    def __init__(self, world):
        self.world = world
        self.violations = []
        self.unreported = []
        self.kept_violations = []     # what the kept detector reported, to compare
        self.kept_unreported = []

    def __getattr__(self, name):
        return getattr(self.world, name)

    def report(self, prop, message, task=None, steps=(), runs=()):
        self.violations.append((prop, message, len(self.world.events) - 1, task, tuple(steps)))


def _acc(a):
    return None if a is None else (a.task, a.pos, a.clock, a.kind, a.step, a.label, a.fn, a.late)


def _state(det) -> tuple:
    return (det.vc, det.reported,
            {k: (_acc(loc.w), [(rk, _acc(r)) for rk, r in loc.reads.items()], loc.has_late)
             for k, loc in det.locs.items()},
            {k: [_acc(a) for a in v] for k, v in det.uses.items()},
            dict(det.lives))


class _Stats:
    def __init__(self):
        self.compared = 0       # executions checked
        self.found = 0          # of them, those where the detector found something


@contextmanager
def _shadowed():
    """Every kept detector's step also runs on a fresh detector of its execution;
    at the execution's end (``reusable``) the two are compared."""
    step, reusable = RaceDetector.step, RaceDetector.reusable
    stats = _Stats()

    def shadow_step(self, world, ev, relaxed=()):
        if self._keys is not None:
            sh = world.__dict__.get("_race_shadow")
            if sh is None:
                sh = world._race_shadow = (_View(world), RaceDetector(len(world.tasks)))
            step(sh[1], sh[0], ev, relaxed)
            nv, nu = len(world.violations), len(world.unreported)
            step(self, world, ev, relaxed)
            # What the kept detector found at this step.
            sh[0].kept_violations += [v[:5] for v in world.violations[nv:]]
            sh[0].kept_unreported += world.unreported[nu:]
        else:
            step(self, world, ev, relaxed)

    def checked_reusable(self, world):
        sh = world.__dict__.get("_race_shadow")
        if sh is not None:
            view, fresh = sh
            assert view.kept_violations == view.violations
            assert view.kept_unreported == view.unreported
            probe = copy.deepcopy(self)
            if probe._at >= 0:
                rewind(probe, probe._at)
            assert _state(probe) == _state(fresh)
            stats.compared += 1
            stats.found += bool(view.violations or view.unreported)
        return reusable(self, world)

    RaceDetector.step, RaceDetector.reusable = shadow_step, checked_reusable
    try:
        yield stats
    finally:
        RaceDetector.step, RaceDetector.reusable = step, reusable


def _skips(build, scheduler, properties):
    """Explore, checking the kept detector; the executions checked and how many
    started from the last one's."""
    starts = []
    kept = RaceDetector.kept

    def counting(last, ntasks):
        starts.append(last is not None and len(last.vc) == ntasks)
        return kept(last, ntasks)

    RaceDetector.kept = staticmethod(counting)
    try:
        with _shadowed() as stats:
            r = explore(build, scheduler=scheduler, properties=properties, stop_on_violation=False)
    finally:
        RaceDetector.kept = kept
    return r, stats, sum(starts)


@settings(SETTINGS, max_examples=80)
@given(programs())
@pytest.mark.parametrize("scheduler", ["dpor", "dfs"])
def test_the_kept_detector_is_a_fresh_ones_on_random_programs(scheduler, spec):
    assume(interleaving_bound(spec[1]) <= MAX_INTERLEAVINGS)
    r, stats, _ = _skips(program_build(spec), scheduler, properties=None)
    # Every execution that took a step was compared (a program deadlocked in its
    # first state takes none: nothing to compare).
    assert stats.compared >= r.executions or r.steps == 0


@settings(SETTINGS, max_examples=40)
@given(mixed_programs())
def test_the_kept_detector_is_a_fresh_ones_with_several_tasks_per_cpu(spec):
    assume(interleaving_bound(spec[1]) <= MAX_INTERLEAVINGS)
    r, stats, _ = _skips(program_build(spec), "dpor", properties=None)
    assert stats.compared >= r.executions


@pytest.mark.parametrize("mutation,scenario,cpus", [
    (None, "free-migrate", 2), (None, "read-compact", 1), (None, "clients", 2),
    ("write-second-half-after-unlock", "read-migrate", 2)])
def test_the_kept_detector_is_a_fresh_ones_on_the_model(mutation, scenario, cpus):
    build = make_build(variant_for("upstream", mutation), scenario, 1, cpus)[0]
    r, stats, started = _skips(build, "dpor", properties=None)
    assert stats.compared == r.executions + r.redundant > 1
    # Every execution but the first goes on from the last one's detector, but
    # after one that found something.
    found = len(r.violations) + r.races
    assert started >= stats.compared - 1 - r.violation_count
    if mutation is None:
        assert found == 0 and started == stats.compared - 1
    else:
        assert stats.found > 0
