"""The reductions that wrap the World (checker/reductions.py): which one a program gets,
what a grouped step is, and the scheduler contract that names them."""

from __future__ import annotations

import pytest

from checker import Program, SpinLock, Task, Var, explore, label
from checker.explore import _build
from checker.reductions import (SECTIONS, CounterWaited, Declarations, GuardBroken, GuardedSections,
                                MacroSteps, PlainSteps, wrap)
from checker.schedulers.base import BaseScheduler
from checker.schedulers.dpor import DPOR
from checker.world import World


def sections(cpus, guarded=True):
    """Two tasks running ``lock; n = v; v = n + 1; unlock`` on ``cpus`` CPUs."""
    def build():
        g = SpinLock("g")
        v = Var("v", 0, guard=g if guarded else None)

        def fn():
            yield g.acquire()
            n = yield v.read()
            yield label("incremented")
            yield v.write(n + 1)
            yield g.release()
        tasks = [Task(fn, name, cpu=i % cpus) for i, name in enumerate("AB")]
        return Program(tasks, cpus=cpus, observe=lambda: v.value)
    return build


@pytest.mark.parametrize("cpus, guarded, guards, want", [
    (1, True, True, MacroSteps),
    (1, False, True, MacroSteps),
    (2, True, True, GuardedSections),
    (2, True, False, PlainSteps),
    (2, False, True, PlainSteps),
])
def test_the_first_reduction_that_applies_wraps_the_world(cpus, guarded, guards, want):
    world = World(_build(sections(cpus, guarded)))
    assert type(wrap(world, SECTIONS, guards)) is want
    assert type(wrap(World(_build(sections(cpus, guarded))), ())) is PlainSteps


def test_plain_steps_are_the_worlds_own():
    world = World(_build(sections(2, guarded=False)))
    steps = wrap(world, SECTIONS)
    assert steps.step == world.step and world.sched_events is world.events


@pytest.mark.parametrize("cpus", [1, 2])
def test_a_section_is_one_grouped_step_of_the_world_steps_it_took(cpus):
    world = World(_build(sections(cpus)))
    steps = wrap(world, SECTIONS)
    first = steps.step(0)
    assert first is world.events[0] and len(world.events) == 5
    (m,) = world.sched_events
    assert m.task == 0 and m.seq == 1 and m.action is first.action
    assert {o for o, *_ in m.fps} == {e.obj for e in world.events if e.kind}


def test_a_broken_guard_is_found_before_the_step_and_withdrawn_once():
    from tests.test_bounded import broken_guard
    world = World(_build(broken_guard))
    steps = wrap(world, SECTIONS)
    assert type(steps) is GuardedSections
    with pytest.raises(GuardBroken, match="without holding g"):
        steps.step(1)
    assert world.events == []
    trusted = Declarations()
    assert "guarded sections not reduced" in trusted.withdraw(GuardBroken("x"))
    assert not trusted.guards and trusted.counters
    assert "counter additions not commuted" in trusted.withdraw(CounterWaited("y"))
    with pytest.raises(Exception, match="internal bug"):
        trusted.withdraw(GuardBroken("again"))


class _Legacy(BaseScheduler):
    """A scheduler written to the contract before ``reductions``: booleans."""

    macro = True

    def __init__(self, guards=True):
        self.inner = DPOR(guards=guards)
        self.guards = guards
        self.new_execution = self.inner.new_execution
        self.pick = self.inner.pick
        self.end_execution = self.inner.end_execution


def test_the_earlier_contracts_booleans_name_the_reductions():
    assert _Legacy().reductions == SECTIONS
    assert _Legacy(guards=False).reductions == (MacroSteps,)
    for cpus in (1, 2):
        want = explore(sections(cpus), scheduler="dpor", properties=[])
        got = explore(sections(cpus), scheduler=_Legacy(), properties=[])
        assert (got.executions, got.outcomes) == (want.executions, want.outcomes)
