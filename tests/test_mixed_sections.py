"""Sections on a CPU shared by several tasks when other CPUs have tasks (checker/mixed.py).

Each program runs under ``dpor`` (with the reduction) and ``dfs`` (none): the
outcomes, the deadlock answer and the violations must be the same.  The
programs are the ways a coarser step on a shared CPU can go wrong
(docs/design.md, "Tried and set aside" and "Mixed sections"), each with a
check that the reduction did group something, so that no test passes
because nothing was reduced.
"""

from __future__ import annotations

import pytest

from checker import (Monitor, Program, SpinLock, Task, Var, actions, choose, explore, label,
                     preempt_disable, preempt_enable)
from checker.explore import _build
from checker.mixed import BOTH, LEFT, NONE, RIGHT, MixedSections, Protection
from checker.reductions import Declarations, MacroSteps, PlainSteps, wrap
from checker.schedulers.dpor import DPOR
from checker.world import World
from bench.fuzz_dpor import ORDERS, OrderedDPOR


class Grouped(Monitor):
    """Counts the executions in which the search took a grouped step."""

    name = "grouped"

    def __init__(self):
        self.grouped = 0

    def on_execution_end(self, world):
        self.grouped += len(world.sched_events) < len(world.events)


def same(build, grouped=True):
    """dpor and dfs agree on ``build``; returns dpor's result."""
    g = Grouped()
    d = explore(build, scheduler="dpor", properties=[g], stop_on_violation=False)
    f = explore(build, scheduler="dfs", properties=[], stop_on_violation=False)
    assert d.complete and f.complete, (d.reason, f.reason)
    assert d.outcomes == f.outcomes, (f"missed {f.outcomes - d.outcomes}, "
                                      f"invented {d.outcomes - f.outcomes}")
    assert (d.deadlocks > 0) == (f.deadlocks > 0)
    assert d.executions <= f.executions
    if grouped:
        assert g.grouped, "the reduction grouped nothing: the test would prove nothing"
    return d


def under(g, body=None):
    """A task body ``g.acquire(); body(); g.release()`` (``body``: a generator function)."""
    def fn():
        yield g.acquire()
        if body is not None:
            yield from body()
        yield g.release()
    return fn


def idle():
    """The shared CPU's other task: one invisible step."""
    yield label("n")


def program(*bodies, cpus=(0, 0, 1), observe):
    return Program([Task(fn, f"t{i}", cpu=c) for i, (fn, c) in enumerate(zip(bodies, cpus))],
                   cpus=2, observe=observe)


def test_it_wraps_only_programs_with_a_shared_cpu_among_several():
    def build(cpus):
        def body():
            yield label("x")
        return lambda: Program([Task(body, f"t{i}", cpu=c) for i, c in enumerate(cpus)],
                               cpus=max(cpus) + 1)
    red = DPOR().reductions
    d = Declarations()
    assert type(wrap(World(_build(build((0, 0, 1)))), red, declared=d)) is MixedSections
    assert type(wrap(World(_build(build((0, 1)))), red, declared=d)) is PlainSteps
    assert type(wrap(World(_build(build((0, 0)))), red, declared=d)) is MacroSteps
    # Without the exploration's declarations it does not apply at all.
    assert type(wrap(World(_build(build((0, 0, 1)))), red)) is PlainSteps


def test_a_section_read_twice_while_another_cpu_writes_between_is_split():
    # Lipton allows one non-mover per group: two unprotected reads of x in one
    # section must let t2's write (other CPU) come between them.
    def build():
        x = Var("x", 0)
        got = []

        def reader():
            yield preempt_disable()
            got.append((yield x.read()))
            got.append((yield x.read()))
            yield preempt_enable()

        def other():
            yield label("other")

        def writer():
            yield x.write(1)
        return program(reader, other, writer, observe=lambda: tuple(got))
    r = same(build, grouped=False)
    assert (0, 1) in r.outcomes


def test_protected_accesses_make_a_section_one_step():
    # Both CPUs touch v only under g: t0's section is one group, and the
    # search needs fewer executions than without the reduction.
    def build():
        g = SpinLock("g")
        v = Var("v", 0)
        w = Var("w", 0)

        def section():
            yield g.acquire()
            n = yield v.read()
            yield v.write(n + 1)
            yield g.release()

        def writes():
            yield w.write(2)
        return program(section, writes, section, observe=lambda: (v.value, w.value))
    r = same(build)
    plain = explore(build, scheduler=_Unreduced(), properties=[])
    assert r.outcomes == {(2, 2)} and r.executions < plain.executions


class _Unreduced(DPOR):
    """dpor without the mixed sections (what it explored before them)."""

    def __init__(self):
        super().__init__()
        self.reductions = tuple(r for r in self.reductions if r is not MixedSections)

    def reset(self):
        super().reset()
        self.reductions = tuple(r for r in self.reductions if r is not MixedSections)


def test_a_lock_taken_without_the_protecting_lock_late_in_the_search_starts_it_again():
    # t2 takes v's lock in one branch and writes v bare in the other: the
    # protection learned first is wrong, and the search must notice and redo.
    from checker import choose

    def build():
        g = SpinLock("g")
        v = Var("v", 0)
        got = []

        def reads():
            got.append((yield v.read()))
            got.append((yield v.read()))

        def other():
            bare = yield choose([False, True])
            if bare:
                yield v.write(5)
            else:
                yield from under(g, lambda: (yield v.write(7)))()
        return program(under(g, reads), idle, other, observe=lambda: tuple(got))
    r = same(build)
    assert (0, 5) in r.outcomes            # the bare write between the two reads


def test_a_release_is_no_left_mover_when_the_other_cpu_trylocks_the_lock():
    def build():
        g = SpinLock("g")
        x = Var("x", 0)
        got = []

        def trier():
            ok = yield g.try_acquire()
            got.append(ok)
            if ok:
                got.append((yield x.read()))
                yield g.release()
        return program(under(g, lambda: (yield x.write(1))), idle, trier,
                       observe=lambda: tuple(got))
    r = same(build)
    assert (False,) in r.outcomes and (True, 0) in r.outcomes and (True, 1) in r.outcomes


# -- the failure modes of the naive coarsening (docs/design.md) -----------------------------

def test_a_section_that_reads_what_its_cpus_other_task_writes():
    # (1) sleep sets must not keep the section asleep across a write it reads.
    def build():
        g = SpinLock("g")
        x = Var("x", 0)
        got = []

        def read():
            got.append((yield x.read()))

        def writer():
            yield x.write(1)
        return program(under(g, read), writer, under(g),
                       observe=lambda: tuple(got))
    r = same(build)
    assert {(0,), (1,)} <= r.outcomes


def test_a_spin_in_a_section_on_what_its_cpus_other_task_writes():
    # (2) the spin stays after the write it waits for, or it deadlocks
    # (hazard 14: the writer cannot run on the spinner's CPU).
    def build():
        g = SpinLock("g")
        x = Var("x", 0)

        def writer():
            yield x.write(1)
        return program(under(g, lambda: (yield x.spin_until(lambda v: v == 1))), writer,
                       under(g), observe=lambda: x.value)
    r = same(build)
    assert r.deadlocks > 0


def test_a_section_started_before_a_step_of_its_cpu_may_never_end():
    # (3) the section waits for a lock the other CPU never gives back: the
    # step of the CPU's other task then never runs, a different outcome.
    def build():
        g = SpinLock("g")
        h = SpinLock("h")
        done = []

        def section():
            yield preempt_disable()
            yield g.acquire()
            yield g.release()
            yield preempt_enable()
            done.append("section")

        def plain():
            yield h.acquire()
            yield h.release()
            done.append("plain")

        def holder():
            yield g.acquire()
            yield label("keeps g")
        return program(section, plain, holder, observe=lambda: tuple(sorted(done)))
    r = same(build)
    assert r.deadlocks > 0 and ("plain",) in r.outcomes


# -- the table ----------------------------------------------------------------------------

def test_the_move_kinds_follow_the_locks_held():
    # Drive the table through a World: t2 on CPU 1 writes v under g.
    def build():
        g = SpinLock("g")
        h = SpinLock("h")
        v = Var("v", 0)

        def t0():
            yield g.acquire()
            yield v.read()
            yield h.acquire()
            yield h.release()
            yield g.release()

        def t2():
            yield g.acquire()
            yield v.write(1)
            yield g.release()
            ok = yield h.try_acquire()
            if ok:
                yield h.release()
        return program(t0, idle, t2, observe=lambda: v.value)
    world = World(_build(build))
    table = Protection()
    d = Declarations()
    d.protection = table
    steps = wrap(world, DPOR().reductions, declared=d)
    while not world.tasks[2].finished:
        steps.step(2)                       # t2: all of it (h is free)
    t0 = world.tasks[0]
    world.step(0)                           # t0 takes g
    assert table.kind_of(t0, t0.pending, ("c", 0)) == BOTH          # v: t2 holds g too
    world.step(0)
    assert table.kind_of(t0, t0.pending, ("c", 0)) == NONE          # h: t2 trylocks it bare
    world.step(0)
    assert table.kind_of(t0, t0.pending, ("c", 0)) == NONE          # release of a trylocked lock
    world.step(0)
    assert table.kind_of(t0, t0.pending, ("c", 0)) in (BOTH, LEFT)  # g: never trylocked
    assert RIGHT != LEFT


@pytest.mark.parametrize("layout", [(0, 0, 1), (0, 1, 1), (0, 0, 1, 1)])
def test_a_lock_section_on_every_task_agrees_with_dfs(layout):
    # Every task: lock g; read v; write v + 1; unlock; then write its own flag.
    def build():
        g = SpinLock("g")
        v = Var("v", 0)
        flags = [Var(f"f{i}", 0) for i in range(len(layout))]

        def body(i):
            def fn():
                yield g.acquire()
                n = yield v.read()
                yield v.write(n + 1)
                yield g.release()
                yield flags[i].write(1)
            return fn
        return Program([Task(body(i), f"t{i}", cpu=c) for i, c in enumerate(layout)], cpus=2,
                       observe=lambda: (v.value,) + tuple(f.value for f in flags))
    r = same(build)
    assert r.outcomes == {(len(layout),) + (1,) * len(layout)}


@pytest.mark.parametrize("spec", [
    # bench.fuzz_dpor --mixed, seed 3, programs 12 and 9: a preemptible task's
    # steps grouped on a shared CPU, where its CPU's other task could start a
    # section between them and strand it (a deadlock no footprint shows).
    {"tasks": [([("use", True), ("sleep",)], 0),
               ([("map", True), ("dec", 0, 0), ("get", False)], 1),
               ([("ptry", 0, "b", 3), ("spin", 0, 0), ("lock", 0, False, 3), ("plock", 0, "a", 1)], 1)],
     "ncpu": 2, "nvars": 1, "lockkinds": ["rw"]},
    {"tasks": [([("gsec", "spin-in")], 0),
               ([("inc", 0, 1), ("rmw", 0, 1), ("pr", "b", 2), ("dec", 0, 0)], 1),
               ([("put", False), ("spin", 0, 2), ("ptry", 1, "a", 1)], 0)],
     "ncpu": 2, "nvars": 1, "lockkinds": ["spin", "rw"]},
])
def test_a_preemptible_task_on_a_shared_cpu_is_not_grouped(spec):
    from bench.fuzz_dpor import mkbuild
    same(mkbuild(spec), grouped=False)


class _ReversedUnreduced(_Unreduced):
    """dpor without the mixed sections, trying an unguided node's steps last task first."""

    @staticmethod
    def _unguided(world, enabled):
        return enabled[::-1]


def _order_dependent_program():
    from bench import fuzz_dpor
    # bench/fuzz_dpor.py --mixed --seed 4, program 19 (found with choices first)
    return fuzz_dpor.mkbuild({
        "tasks": [([("gsec", "sub"), ("r", 0, 0)], 0), ([("choose", 0), ("gsec", "write")], 1),
                  ([("choose", 0)], 0)], "ncpu": 2, "nvars": 1, "lockkinds": ["mutex"]})


def _choice_then_conflict():
    """The cause, minimised: t1, alone on CPU 1, chooses to write y or x; t0 writes
    y then reads x; t2 shares CPU 0.  Grouped with its write, value 1 of the choice
    touches x only: asleep at the node after t0's write of y (it was explored
    before, and commutes with that write), while value 0 (it writes y: woken) is
    taken there first when the last enabled task goes first.  The trace in
    which t0 reads x before t1 writes it then has no event to start it."""
    x, y = Var("x", 0), Var("y", 0)
    got = []

    def t0():
        yield y.write(1)
        got.append((yield x.read()))

    def t1():
        if (yield choose([0, 1])):
            yield x.write(1)
        else:
            yield y.write(2)

    return Program([Task(t0, "t0", cpu=0), Task(t1, "t1", cpu=1), Task(idle, "t2", cpu=0)],
                   cpus=2, observe=lambda: (x.value, y.value, tuple(got)))


def test_without_the_mixed_sections_the_unguided_order_does_not_matter():
    build = _order_dependent_program()
    every = explore(build, scheduler="dfs", properties=[], stop_on_violation=False).outcomes
    for sched in (_Unreduced(), _ReversedUnreduced()):
        assert explore(build, scheduler=sched, properties=[], stop_on_violation=False).outcomes == every


@pytest.mark.parametrize("build", [_order_dependent_program(), _choice_then_conflict],
                         ids=["fuzz-seed4-program19", "minimised"])
def test_with_the_mixed_sections_the_unguided_order_does_not_matter(build):
    every = explore(build, scheduler="dfs", properties=[], stop_on_violation=False).outcomes
    for order in ORDERS:
        got = explore(build, scheduler=OrderedDPOR(order), properties=[], stop_on_violation=False)
        assert got.outcomes == every, order


def test_a_choice_is_a_step_of_its_own_in_a_mixed_section():
    # What the test above relies on: grouped with the write after it, each value of
    # the choice would be an event with a footprint of its own.
    w = World(_build(_choice_then_conflict))
    red = wrap(w, DPOR().reductions, declared=Declarations())
    assert type(red) is MixedSections
    red.step(1, 1)
    assert len(w.sched_events) == len(w.events) == 1 and not w.sched_events[0].fps
    red.step(1)
    assert w.sched_events[-1].action.op == actions.WRITE


def test_a_search_that_relied_on_the_learned_discipline_says_how_often_it_learned(monkeypatch):
    # Without the warm-up (checker/mixed_warmup.py), whose random executions
    # teach this program's discipline before the search starts.
    from checker import mixed_warmup
    monkeypatch.setattr(mixed_warmup, "WARM_UP", 0)
    r = explore(_order_dependent_program(), properties=[], stop_on_violation=False)
    assert "searched again 1 time(s)" in r.note
    assert "not yet a proof" not in r.note
