"""``deadlock``: some task can always run until all have finished (generic programs)."""

from __future__ import annotations

import pytest

from checker import Mutex, Program, SpinLock, Task, Var, explore, preempt_disable, preempt_enable

BOTH = pytest.mark.parametrize("scheduler", ["dfs", "dpor"])


def abba(kind_a, kind_b, consistent=False):
    def build():
        a, b = kind_a("A"), kind_b("B")

        def t0():
            yield a.acquire(); yield b.acquire(); yield b.release(); yield a.release()

        def t1():
            x, y = (a, b) if consistent else (b, a)
            yield x.acquire(); yield y.acquire(); yield y.release(); yield x.release()
        return Program([Task(t0, name="T0"), Task(t1, name="T1")])
    return build


@BOTH
@pytest.mark.parametrize("kind,how", [(SpinLock, "spins on spinlock_t"), (Mutex, "sleeps on mutex")])
def test_abba_deadlock_names_pending_actions_and_holders(scheduler, kind, how):
    r = explore(abba(kind, kind), scheduler=scheduler, properties=["deadlock"])
    assert len(r.violations) == 1 and r.deadlocks == 1
    v = r.violations[0]
    assert v.property == "deadlock"
    lines = v.message.splitlines()
    assert lines[0] == "deadlock: no task can run while T0, T1 have not finished"
    assert lines[1] == f"  T0 (cpu0) is stuck in acquire(B): {how} B held by T1"
    assert lines[2] == f"  T1 (cpu1) is stuck in acquire(A): {how} A held by T0"
    # Points at both acquisitions of the held locks.
    acts = {s.index: (s.task_name, s.action) for s in v.steps}
    assert sorted(acts[i] for i in v.involved) == [("T0", "acquire(A)"), ("T1", "acquire(B)")]


@BOTH
def test_spinning_with_preemption_disabled_on_the_setters_cpu(scheduler):
    """A spinner that owns the CPU can never be released by a task of the same CPU."""
    def build():
        flag = Var("flag", 0)

        def waiter():
            yield preempt_disable()
            yield flag.spin_until(lambda v: v == 1)
            yield preempt_enable()

        def setter():
            yield flag.write(1)
        return Program([Task(waiter, name="waiter", cpu=0), Task(setter, name="setter", cpu=0)])
    r = explore(build, scheduler=scheduler, properties=["deadlock"], stop_on_violation=False)
    assert r.deadlocks >= 1 and len(r.violations) == 1
    msg = r.violations[0].message
    assert "waiter (cpu0) is stuck in spin_until(flag): spins on flag = 0 with preemption disabled" in msg
    assert "setter (cpu0) is stuck in write(flag, 1): CPU 0 is held by atomic task waiter" in msg


@BOTH
def test_consistent_order_never_deadlocks(scheduler):
    r = explore(abba(SpinLock, Mutex, consistent=True), scheduler=scheduler, properties=["deadlock"])
    assert r.ok and r.complete and r.deadlocks == 0 and r.executions > 1
