"""Monitors declared ``replay_pure`` are skipped while an execution repeats the steps
of the last one, which found nothing (checker/monitor.py, checker/world.py): the
search must report exactly what it reports with every monitor run at every step,
on the mutations each such property catches, with and without stopping at the
first violation, and on the correct protocol."""

from __future__ import annotations

import pytest

from checker import explore
from checker.monitor import resolve
from model.registry import make_build, variant_for
from model.versions import Upstream

try:
    from tests.test_prop_zsmalloc import LegacyLockZspageBlocking, NoZeroFullnessStat, PreemptibleWriter
except ImportError:
    from test_prop_zsmalloc import LegacyLockZspageBlocking, NoZeroFullnessStat, PreemptibleWriter

_PURE = ["pool-consistency", "writers-never-block", "sleep-in-atomic"]


def test_the_pure_monitors_say_so():
    assert all(resolve(name).replay_pure for name in _PURE)
    # lock-order's verdict grows over the search; data-integrity keeps the last writes.
    assert not resolve("lock-order").replay_pure
    assert not resolve("data-integrity").replay_pure


def _outcome(r) -> tuple:
    return (r.complete, r.executions, r.redundant, r.violation_count,
            [(v.property, v.message, v.step, v.schedule) for v in r.violations])


def _monitors(pure: bool, calls: dict):
    """The monitors, the pure ones declared so only if ``pure``; ``calls["made"]``
    counts the calls of the pure ones' per-step hooks."""
    out = []
    for name in [*_PURE, "lock-order", "no-free-while-mapped", "data-integrity"]:
        m = resolve(name)
        if name in _PURE:
            for hook in ("on_pending", "on_event"):
                fn = getattr(m, hook, None)
                if fn is not None:
                    def counted(*a, _fn=fn):
                        calls["made"] += 1
                        return _fn(*a)
                    setattr(m, hook, counted)
            if not pure:
                m.replay_pure = False      # an instance attribute: this search runs it always
        out.append(m)
    return out


def _both(build, stop: bool, bound=None):
    """The search with the pure monitors skipped in replays, and with them always run;
    and how many of their hook calls each made."""
    made = ({"made": 0}, {"made": 0})
    a = explore(build, properties=_monitors(True, made[0]), stop_on_violation=stop,
                preemption_bound=bound)
    b = explore(build, properties=_monitors(False, made[1]), stop_on_violation=stop,
                preemption_bound=bound)
    return a, b, made[0]["made"], made[1]["made"]


@pytest.mark.parametrize("variant,scenario,prop", [
    (NoZeroFullnessStat, "free-deferred", "pool-consistency"),
    (PreemptibleWriter, "read-migrate", "writers-never-block"),
    (LegacyLockZspageBlocking, "free-deferred", "sleep-in-atomic"),
    (Upstream, "free-migrate", None),
    (Upstream, "read-compact", None),
])
@pytest.mark.parametrize("stop", [True, False])
def test_skipping_pure_monitors_in_replays_reports_the_same(variant, scenario, prop, stop):
    build = make_build(variant, scenario, 1)[0]
    a, b, _, _ = _both(build, stop)
    assert _outcome(a) == _outcome(b)
    if prop is not None:
        assert any(v.property == prop for v in a.violations)
    else:
        assert a.ok and a.complete


@pytest.mark.parametrize("variant,scenario", [
    (NoZeroFullnessStat, "free-deferred"), (PreemptibleWriter, "read-migrate"),
    (LegacyLockZspageBlocking, "free-deferred")])
@pytest.mark.parametrize("bound", [0, 1])
def test_the_same_within_a_preemption_bound(variant, scenario, bound):
    """Bounded dpor drops what a probe beyond the bound found: a replay after such a
    probe must still run the pure monitors."""
    a, b, _, _ = _both(make_build(variant, scenario, 1)[0], stop=False, bound=bound)
    assert _outcome(a) == _outcome(b)


def test_replays_skip_most_pure_hook_calls():
    """The point of it: on the correct protocol, most of the pure monitors' calls are
    skipped (each execution replays most of the last one).  free-deferred's executions are
    long (the worker's retry rounds): at depth 1 on one CPU 91,446 calls against 34,714
    (read-migrate needs depth 2 for the same ratio, and 4,886 executions twice)."""
    build = make_build(variant_for("upstream", None), "free-deferred", 1, 1)[0]
    a, b, skipping, always = _both(build, stop=True)
    assert a.ok and a.complete and _outcome(a) == _outcome(b)
    assert always > 2 * skipping
