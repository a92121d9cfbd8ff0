"""checker.interrupts: hard IRQ and softirq handlers bound to a CPU."""

from __future__ import annotations

import pytest

from checker import (ModelError, Mutex, Program, SpinLock, Task, Var, explore, label, local_bh_disable,
                     local_bh_enable, local_irq_disable, local_irq_enable, preempt_disable,
                     preempt_enable)
from checker.interrupts import (spin_lock_bh, spin_lock_irqsave, spin_unlock_bh,
                                spin_unlock_irqrestore)


def _search(build, **kw):
    kw.setdefault("stop_on_violation", False)
    return explore(build, **kw)


def observed(task_body, irq="hard"):
    """A task of CPU 0 writes x = 1, 2 around ``task_body``'s masking; a handler of CPU 0
    reads x once.  The handler sees 1 only if it can fire between the two writes."""
    def build():
        x = Var("x", 0)
        seen = []

        def task():
            yield from task_body(x)

        def handler():
            seen.append((yield x.read()))
        return Program([Task(task, "t", 0), Task(handler, "irq", 0, irq=irq)],
                       observe=lambda: seen[0])
    return build


def writes(before, after):
    def body(x):
        if before is not None:
            yield before()
        yield x.write(1)
        yield x.write(2)
        if after is not None:
            yield after()
    return body


@pytest.mark.parametrize("irq", ["hard", "soft"])
def test_a_handler_fires_inside_a_preempt_disabled_section(irq):
    r = _search(observed(writes(preempt_disable, preempt_enable), irq), properties=[])
    assert r.complete and set(r.outcomes) == {0, 1, 2}


def test_a_plain_task_of_the_cpu_does_not():
    def build():
        x = Var("x", 0)
        seen = []

        def task():
            yield preempt_disable()
            yield x.write(1)
            yield x.write(2)
            yield preempt_enable()

        def other():
            seen.append((yield x.read()))
        return Program([Task(task, "t", 0), Task(other, "o", 0)], observe=lambda: seen[0])
    assert set(_search(build, properties=[]).outcomes) == {0, 2}


def test_local_irq_disable_masks_hard_and_soft_handlers():
    body = writes(local_irq_disable, local_irq_enable)
    assert set(_search(observed(body, "hard"), properties=[]).outcomes) == {0, 2}
    assert set(_search(observed(body, "soft"), properties=[]).outcomes) == {0, 2}


def test_local_bh_disable_masks_softirqs_only():
    body = writes(local_bh_disable, local_bh_enable)
    assert set(_search(observed(body, "soft"), properties=[]).outcomes) == {0, 2}
    assert set(_search(observed(body, "hard"), properties=[]).outcomes) == {0, 1, 2}


def test_a_hard_irq_interrupts_a_softirq_but_not_the_reverse():
    def build(outer, inner):
        def make():
            x = Var("x", 0)
            seen = []

            def first():
                yield x.write(1)
                yield x.write(2)

            def second():
                seen.append((yield x.read()))
            return Program([Task(first, "a", 0, irq=outer), Task(second, "b", 0, irq=inner),
                            Task(lambda: (yield label("idle")), "idle", 0)], observe=lambda: tuple(seen))
        return make
    assert {1} <= {s[0] for s in _search(build("soft", "hard"), properties=[]).outcomes}
    assert {s[0] for s in _search(build("hard", "soft"), properties=[]).outcomes} == {0, 2}


def irq_and_lock(task_locks, handler_locks=True):
    def build():
        lk = SpinLock("lk")

        def task():
            if task_locks == "irqsave":
                yield from spin_lock_irqsave(lk)
                yield from spin_unlock_irqrestore(lk)
            elif task_locks == "bh":
                yield from spin_lock_bh(lk)
                yield from spin_unlock_bh(lk)
            else:
                yield lk.acquire()
                yield lk.release()

        def handler():
            yield lk.acquire()
            yield lk.release()
        return Program([Task(task, "t", 0), Task(handler, "irq", 0, irq="hard")])
    return build


def test_a_handler_spinning_on_its_cpus_lock_is_a_deadlock():
    r = _search(irq_and_lock("plain"), properties=["deadlock"])
    assert r.deadlocks and r.violations[0].property == "deadlock"
    assert "the hard interrupt that interrupted it" in r.violations[0].message


def test_spin_lock_irqsave_keeps_the_handler_out():
    r = _search(irq_and_lock("irqsave"))
    assert r.complete and not r.violations and not r.deadlocks


def test_spin_lock_bh_does_not_keep_a_hard_irq_out():
    r = _search(irq_and_lock("bh"), properties=["deadlock"])
    assert r.deadlocks


def test_a_handler_may_not_sleep():
    def build():
        m = Mutex("m")

        def task():
            yield label("work")

        def handler():
            yield m.acquire()
            yield m.release()
        return Program([Task(task, "t", 0), Task(handler, "irq", 0, irq="soft")])
    r = _search(build, properties=["sleep-in-atomic"])
    assert r.violations and "in softirq context" in r.violations[0].message


def test_dpor_hands_a_program_with_handlers_to_dfs_and_says_so():
    r = explore(irq_and_lock("irqsave"), scheduler="dpor")
    assert r.scheduler == "dfs" and "interrupt handlers" in r.note and r.complete
    dfs = explore(irq_and_lock("irqsave"), scheduler="dfs")
    assert r.executions == dfs.executions


def test_declarations_are_checked():
    def body():
        yield label("x")
    with pytest.raises(ModelError, match="irq must be 'hard' or 'soft'"):
        Program([Task(body, "h", 0, irq="nmi")])
    with pytest.raises(ModelError, match="needs the CPU it fires on"):
        Program([Task(body, "h", irq="hard")])

    def unbalanced():
        yield local_irq_enable()
    with pytest.raises(ModelError, match="local_irq_enable\\(\\) without a matching"):
        explore(lambda: Program([Task(unbalanced, "t", 0)]))

    def handler_enables_its_own():
        yield local_irq_enable()
    with pytest.raises(ModelError, match="local_irq_enable\\(\\) without a matching"):
        explore(lambda: Program([Task(handler_enables_its_own, "h", 0, irq="hard"),
                                 Task(body, "t", 0)]), scheduler="dfs")
