"""One definition of dependence (checker/dependence.py) for dpor and the minimiser.

dpor builds happens-before as vector clocks while it reverses races; the
minimiser as bitsets of direct dependences, to slice a trace and constrain
z3's orderings; the naive trace counter, the split search and the sleep sets
compare two steps at a time.  On the differential fuzzer's programs
(tests/test_engine_differential.py) every execution dpor analyses must get
the same happens-before from all three, and the minimiser's (``invisible=True``)
must be dpor's except for what the parameter documents: an invisible step
on a shared CPU keeps its place relative to its CPU's ownership changes.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings

from checker import Program, Task, Var, explore, label, preempt_disable, preempt_enable
from checker.dependence import dependent, direct_dependences, event_fp, happens_before, step_cpu
from checker.schedulers.dpor import DPOR
from checker.schedulers.replay import Replay, ScheduleDivergence

try:
    from tests.test_engine_differential import (
        MAX_INTERLEAVINGS,
        SETTINGS,
        interleaving_bound,
        make_build,
        programs,
    )
except ImportError:
    from test_engine_differential import MAX_INTERLEAVINGS, SETTINGS, interleaving_bound, make_build, programs


def _from_clocks(evs, clocks) -> list:
    """``before[m]``: bitset of the steps that happen before step ``m``, from vector clocks."""
    return [sum(1 << i for i in range(m) if clocks[m][evs[i].task] >= evs[i].seq)
            for m in range(len(evs))]


def _pairwise(evs, invisible) -> list:
    """The same, as the transitive closure of :func:`dependent` on every pair."""
    fps = [event_fp(e, invisible) for e in evs]
    before = []
    for m in range(len(evs)):
        b = 0
        for i in range(m):
            if dependent(fps[i], fps[m]):
                b |= before[i] | (1 << i)
        before.append(b)
    return before


class _Recording(DPOR):
    """dpor, keeping the happens-before of every execution it analyses (as its races saw it)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.analysed = getattr(self, "analysed", [])

    def _reverse_races(self, world):
        clocks = super()._reverse_races(world)
        self.analysed.append((list(world.sched_events), len(world.tasks), [list(c) for c in clocks]))
        return clocks


@settings(SETTINGS, max_examples=120)
@given(programs())
def test_the_minimisers_happens_before_is_dpors(spec):
    assume(interleaving_bound(spec[1]) <= MAX_INTERLEAVINGS)
    sched = _Recording()
    explore(make_build(spec), scheduler=sched, properties=[], stop_on_violation=False)
    assert sched.analysed
    for evs, ntask, clocks in sched.analysed:
        dpor = _from_clocks(evs, clocks)
        same = happens_before(direct_dependences(evs, ntask, invisible=False))
        assert same == dpor == _pairwise(evs, False)
        minimiser = happens_before(direct_dependences(evs, ntask, invisible=True))
        assert minimiser == _pairwise(evs, True)
        # The one documented difference: the minimiser orders invisible steps on a
        # shared CPU against the CPU's ownership changes, so it has more pairs...
        assert all(d & ~m == 0 for d, m in zip(dpor, minimiser))
        # ... and only because of such a step.
        if not any(e.cpu >= 0 and step_cpu(e) < 0 for e in evs):
            assert minimiser == dpor


def _label_then_section():
    """Two tasks of one CPU: a label, and a section that writes ``x``."""
    def build():
        x = Var("x", 0)

        def a():
            yield preempt_disable()
            yield x.write(1)
            yield preempt_enable()

        def b():
            yield label("note")
        return Program([Task(a, name="A", cpu=0), Task(b, name="B", cpu=0)], cpus=1)
    return build


def test_an_ordering_that_respects_dpors_happens_before_may_not_run():
    # B's label, then A's section.  For dpor the label commutes with the section
    # (where both orders run they reach the same state), so the label may move
    # after A's preempt_disable; but no CPU can run it inside A's section.  The
    # minimiser, which replays any ordering that respects happens-before, needs
    # the label ordered (invisible=True).
    build = _label_then_section()
    first = Replay([(1, None), (0, None), (0, None), (0, None)])
    explore(build, scheduler=first, properties=[])
    evs = first.world.events
    assert [e.task for e in evs] == [1, 0, 0, 0]
    dpor = direct_dependences(evs, 2, invisible=False)
    minimiser = direct_dependences(evs, 2, invisible=True)
    assert dpor[1] == [] and minimiser[1] == [0]     # A's preempt_disable after B's label?
    moved = Replay([(0, None), (1, None), (0, None), (0, None)])     # respects dpor's, not the minimiser's
    with pytest.raises(ScheduleDivergence, match="task B is not enabled"):
        explore(build, scheduler=moved, properties=[])
