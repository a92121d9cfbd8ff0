"""Sections ordered by their footprint on a CPU shared among several CPUs
(checker/schedulers/contiguity.py, docs/design.md "Mixed sections").

Each program runs under ``dpor`` (with and without the contiguity relation)
and ``dfs``: the outcomes and the deadlock answer must be the same, and the
relation must have cut executions where the program lets it (so that no test
passes because nothing was reduced).
"""

from __future__ import annotations

from checker import Program, SpinLock, Task, Var, explore, preempt_disable, preempt_enable
from checker.schedulers.contiguity import runnable, spans_of
from checker.schedulers.dpor import DPOR


class Fine(DPOR):
    """dpor with every ownership change ordered against the CPU's other tasks."""

    contiguous_sections = False


def agree(build):
    """dpor (both relations) and dfs agree on ``build``; returns (dpor, fine dpor)."""
    f = explore(build, scheduler="dfs", properties=[], stop_on_violation=False)
    out = []
    for sched in (DPOR(), Fine()):
        d = explore(build, scheduler=sched, properties=[], stop_on_violation=False)
        assert d.complete and f.complete, (d.reason, f.reason)
        assert d.outcomes == f.outcomes, (f"missed {f.outcomes - d.outcomes}, "
                                          f"invented {d.outcomes - f.outcomes}")
        assert (d.deadlocks > 0) == (f.deadlocks > 0)
        assert d.executions <= f.executions
        out.append(d)
    return out


def section_and_steps(nsteps: int, touch: bool):
    """CPU 0: a section that writes a (split by the other CPU's writes of a), and
    a task of ``nsteps`` writes of b (and of a too if ``touch``); CPU 1: a writer of a."""
    def build():
        a = Var("a", 0)
        b = Var("b", 0)

        def section():
            yield preempt_disable()
            yield a.write(1)
            yield a.write(2)
            yield preempt_enable()

        def steps():
            for i in range(nsteps):
                yield b.write(i + 1)
            if touch:
                yield a.write(9)

        def other():
            yield a.write(5)
        return Program([Task(section, "sec", cpu=0), Task(steps, "steps", cpu=0),
                        Task(other, "other", cpu=1)], cpus=2, observe=lambda: (a.value, b.value))
    return build


def test_steps_that_touch_nothing_of_a_section_are_not_ordered_against_it():
    # The section is split (the other CPU writes a between its writes); the
    # steps of its CPU's other task write only b: with the fine relation each
    # of their positions around the section is a trace of its own.
    d, fine = agree(section_and_steps(3, touch=False))
    assert d.executions < fine.executions


def test_a_step_that_touches_the_section_is_still_ordered_against_it():
    d, _ = agree(section_and_steps(2, touch=True))
    assert {o[0] for o in d.outcomes} >= {2, 5, 9}


def test_a_section_that_waits_for_what_a_step_of_its_cpu_makes_through_another_cpu():
    # CPU 1 holds g until it sees x == 1, which t1 (CPU 0) writes.  Started
    # first, t0's section waits for g with CPU 0 held, t1 never runs and CPU 1
    # spins for good: a deadlock that only the order "section before x = 1"
    # has, though the section touches nothing t1 touches (contiguity: t1's
    # write happens before the section's acquisition, through CPU 1).  The
    # section's bare write of y, which CPU 2 writes too, splits it in two.
    def build():
        g = SpinLock("g")
        x = Var("x", 0)
        y = Var("y", 0)

        def section():
            yield preempt_disable()
            yield y.write(1)
            yield g.acquire()
            yield g.release()
            yield preempt_enable()

        def setter():
            yield x.write(1)

        def splitter():
            yield y.write(2)

        def holder():
            yield g.acquire()
            yield x.spin_until(lambda v: v == 1)
            yield g.release()
        # In this task order dpor's first runs start the section last: without
        # the rule (a step of its CPU that happens before its span happens
        # before its start) it reported no deadlock.
        return Program([Task(holder, "hold", cpu=1), Task(setter, "set", cpu=0),
                        Task(splitter, "split", cpu=2), Task(section, "sec", cpu=0)], cpus=3,
                       observe=lambda: (x.value, y.value))
    d, _ = agree(build)
    assert d.deadlocks > 0


class E:
    """A scheduled step as the contiguity functions read it."""

    def __init__(self, task, cpu, xoc=False, own=None):
        self.task, self.cpu, self.xoc, self.own, self.oc = task, cpu, xoc, own, xoc


def test_a_sequence_is_put_in_an_order_a_cpu_can_run():
    # Positions 0..3: task 1 opens a section on CPU 0 (0) that stays open in
    # the sequence; task 2's step on CPU 0 (1) must go before it; task 1's next
    # step (2) after it; task 3 on another CPU anywhere.
    evs = [E(1, 0, xoc=True), E(2, 0), E(1, 0, own=1), E(3, -1)]
    order = runnable([0, 1, 2, 3], evs, lambda i, m: (i, m) == (0, 2), {}, {})
    assert order.index(1) < order.index(0) < order.index(2)
    # Held before the sequence by a section that ends after it: task 2's step
    # ran after that section; the sequence leaves it out, and cannot end with it.
    assert runnable([1, 3], evs, lambda i, m: False, {0: (1, 9)}, {}) == [3]
    assert runnable([3, 1], evs, lambda i, m: False, {0: (1, 9)}, {}) is None


def test_an_execution_whose_section_never_ends_has_no_spans():
    assert spans_of([E(0, 0, xoc=True), E(0, 0, xoc=True, own=0)]).items == [(0, 0, 0, 1)]
    assert spans_of([E(0, 0, xoc=True), E(1, 1)]) is None


class FineSleep(DPOR):
    """dpor whose sleep sets wake a sleeping step at every ownership change of its CPU."""

    contiguous_sleep = False


def test_a_step_sleeps_across_a_section_that_touches_nothing_of_it():
    # bench/fuzz_dpor.py --mixed, random.Random(1), program 41 (found by comparing
    # the two sleep rules): dfs finds the same outcomes and deadlocks in 40,040
    # executions (too many for a test; the Hypothesis differential tests and the
    # fuzzer compare the rule with dfs on small programs).
    from bench import fuzz_dpor
    build = fuzz_dpor.mkbuild({
        "tasks": [([("pr", "a", 2), ("r", 0, 1), ("lock", 0, False, 1), ("rmw", 0, 0)], 0),
                  ([("gbad",), ("r", 0, 1), ("pd", 0), ("gsec", "sub")], 1), ([("pd", 3)], 1)],
        "ncpu": 2, "nvars": 1, "lockkinds": ["spin", "mutex"]})
    now = explore(build, scheduler=DPOR(), properties=[], stop_on_violation=False)
    fine = explore(build, scheduler=FineSleep(), properties=[], stop_on_violation=False)
    assert now.complete and fine.complete
    assert now.outcomes == fine.outcomes and (now.deadlocks > 0) == (fine.deadlocks > 0)
    assert now.executions + now.redundant < fine.executions + fine.redundant


def test_a_sleeping_section_start_still_wakes_at_its_cpus_steps():
    from checker import actions as A
    from checker.dependence import dependent
    from checker.schedulers.contiguous_sleep import sleep_dependent
    start = (0, (), 0, True)            # task 0 starts a section on CPU 0
    step = (1, (("x", A.W),), 0, False)  # task 1 writes x on CPU 0
    other = (2, (("y", A.W),), 0, False)
    assert sleep_dependent(start, step) and dependent(start, step)
    assert not sleep_dependent(step, start) and dependent(step, start)
    assert not sleep_dependent(step, other)
    assert sleep_dependent(step, (2, (("x", A.R),), 1, False))  # a read of x, another CPU
