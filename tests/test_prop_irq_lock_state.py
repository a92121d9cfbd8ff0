"""irq-lock-state: lockdep's IRQ-state rules (inconsistent lock state; IRQ-safe -> IRQ-unsafe)."""

from __future__ import annotations

from checker import Program, RwLock, SpinLock, Task, choose, explore, label
from checker.interrupts import spin_lock_irqsave, spin_unlock_irqrestore
from properties.irq_lock_state import IrqLockState


def _found(build):
    r = explore(build, properties=["irq-lock-state"], stop_on_violation=False)
    assert r.complete
    return [v.message for v in r.violations]


def one_lock(task_take, handler_shared=False, lock=SpinLock):
    def build():
        lk = lock("lk")

        def task():
            yield from task_take(lk)

        def handler():
            yield lk.acquire(shared=handler_shared)
            yield lk.release()
        return Program([Task(task, "t", 0), Task(handler, "irq", 1, irq="hard"),
                        Task(lambda: (yield label("idle")), "idle", 1)])
    return build


def plain(shared=False):
    def take(lk):
        yield lk.acquire(shared=shared)
        yield lk.release()
    return take


def irqsave(lk):
    yield from spin_lock_irqsave(lk)
    yield from spin_unlock_irqrestore(lk)


def test_a_lock_used_in_hardirq_and_taken_with_irqs_on_is_inconsistent():
    [msg] = _found(one_lock(plain()))
    assert msg.startswith("inconsistent lock state: {IN-HARDIRQ-W} -> {HARDIRQ-ON-W} usage of lk")
    assert "irq took it" in msg and "t took it" in msg


def test_taken_with_irqs_saved_everywhere_it_is_consistent():
    assert _found(one_lock(irqsave)) == []


def test_an_interrupt_reader_and_process_readers_are_consistent_but_not_a_writer():
    assert _found(one_lock(plain(shared=True), handler_shared=True, lock=RwLock)) == []
    [msg] = _found(one_lock(plain(shared=False), handler_shared=True, lock=RwLock))
    assert "{IN-HARDIRQ-R} -> {HARDIRQ-ON-W}" in msg


def test_the_two_usages_may_come_from_different_executions():
    # The task takes the lock plainly in one execution and with IRQs off in the other;
    # the handler's use and the plain one never meet in one execution.
    def build():
        lk = SpinLock("lk")

        def task():
            how = yield choose(["plain", "irqsave"])
            if how == "plain":
                yield lk.acquire()
                yield lk.release()
            else:
                yield from irqsave(lk)

        def handler():
            yield lk.acquire()
            yield lk.release()
        return Program([Task(task, "t", 0), Task(handler, "irq", 1, irq="hard"),
                        Task(lambda: (yield label("idle")), "idle", 1)])
    [msg] = _found(build)
    assert "inconsistent lock state" in msg


def test_an_irq_safe_lock_held_while_taking_an_irq_unsafe_one():
    def build():
        a, b = SpinLock("A"), SpinLock("B")

        def nester():
            yield from spin_lock_irqsave(a)
            yield b.acquire()
            yield b.release()
            yield from spin_unlock_irqrestore(a)

        def plain_b():
            yield b.acquire()
            yield b.release()

        def handler():
            yield a.acquire()
            yield a.release()
        return Program([Task(nester, "n", 0), Task(plain_b, "p", 1), Task(handler, "irq", 2, irq="hard"),
                        Task(lambda: (yield label("idle")), "idle", 2)])
    found = _found(build)
    assert any(m.startswith("HARDIRQ-safe -> HARDIRQ-unsafe lock order detected: n took B while "
                            "holding A") for m in found), found


def test_it_applies_only_to_programs_with_handlers():
    def build():
        lk = SpinLock("lk")

        def t():
            yield lk.acquire()
            yield lk.release()
        return Program([Task(t, "t", 0)])
    assert not IrqLockState().applies(build())
    assert IrqLockState().applies(one_lock(plain())())


def test_a_split_searchs_states_merge_into_the_finding():
    # Each subtree saw one usage: the merge replays the run of the second against the first.
    a, b = IrqLockState(), IrqLockState()
    a.on_explore_start(None)
    b.on_explore_start(None)
    a.usage = {"lk": {("HARDIRQ", True, "W"): _use("irq", ((1, None),))}}
    b.usage = {"lk": {("HARDIRQ", False, "W"): _use("t", ((0, None),))}}
    replays = list(IrqLockState().merge([a.export_state(), b.export_state()]))
    assert len(replays) == 1
    monitor, schedule = replays[0]
    assert schedule == ((0, None),) and ("HARDIRQ", True, "W") in monitor.seed["usage"]["lk"]
    assert list(IrqLockState().merge([a.export_state(), a.export_state()])) == []


def _use(task, schedule):
    from properties.irq_lock_state import Use
    return Use(1, task, "acquire(lk)", len(schedule) - 1, schedule)
