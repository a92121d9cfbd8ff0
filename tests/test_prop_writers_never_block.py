"""``writers-never-block``: zspage-lock writers only trylock and stay atomic (generic programs).

The lock is built here the three ways the zsmalloc versions build it
(zsmalloc-protocol.md section 1): a spinlock plus a counter annotated with a
lockdep_map (6.15), an atomic counter with preempt_disable annotated with a
lockdep_map (v5), and a plain rwlock_t (legacy).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from checker import (LockMap, Mutex, Program, RwLock, SpinLock, Task, Var, cond_resched, explore,
                     might_sleep, preempt_disable, preempt_enable, sleep)
from checker.monitor import select

BOTH = pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
ZSPAGE = "zspage->lock"


@dataclass
class Ctx:
    writer_trylock_locks: frozenset = frozenset({ZSPAGE})


class Upstream:
    """6.15: ``struct zspage_lock { spinlock_t lock; int cnt; struct lockdep_map dep_map; }``."""

    def __init__(self, preemptible_writer=False):
        self.inner = SpinLock("zsl->lock")
        self.cnt = Var("zsl->cnt", 0)
        self.dep = LockMap("zspage", cls=ZSPAGE)
        self.preemptible_writer = preemptible_writer

    def zspage_read_lock(self):
        yield self.dep.acquire(shared=True)
        yield self.inner.acquire()
        yield self.cnt.rmw(lambda v: v + 1)
        yield self.inner.release()

    def zspage_read_unlock(self):
        yield self.dep.release()
        yield self.inner.acquire()
        yield self.cnt.rmw(lambda v: v - 1)
        yield self.inner.release()

    def zspage_write_trylock(self):
        yield self.inner.acquire()
        if (yield self.cnt.read()) == 0:
            yield self.cnt.write(-1)
            yield self.dep.try_acquire()
            if self.preemptible_writer:      # the mutation of hazard 14
                yield self.inner.release()
            return True
        yield self.inner.release()
        return False

    def zspage_write_unlock(self):
        yield self.dep.release()
        yield self.cnt.write(0)
        if not self.preemptible_writer:
            yield self.inner.release()


class V5:
    """v5: an atomic counter; the writer disables preemption around its section."""

    def __init__(self, forget_preempt_disable=False):
        self.cnt = Var("zspage->lock counter", 0)
        self.dep = LockMap("zspage", cls=ZSPAGE)
        self.pd = not forget_preempt_disable

    def zspage_read_lock(self):
        while True:
            old = yield self.cnt.spin_until(lambda v: v != -1)
            if (yield self.cnt.cmpxchg(old, old + 1)) == old:
                break
        yield self.dep.acquire(shared=True)

    def zspage_read_unlock(self):
        yield self.dep.release()
        yield self.cnt.rmw(lambda v: v - 1)

    def zspage_write_trylock(self):
        if self.pd:
            yield preempt_disable()
        if (yield self.cnt.cmpxchg(0, -1)) == 0:
            yield self.dep.try_acquire()
            return True
        if self.pd:
            yield preempt_enable()
        return False

    def zspage_write_unlock(self):
        yield self.dep.release()
        yield self.cnt.write(0)
        if self.pd:
            yield preempt_enable()


def program(lock_factory, writer_extra=(), blocking_writer=False):
    """A reader that sleeps holding the read side; a migration-like writer on one CPU."""
    def build():
        zl = lock_factory()
        other = Mutex("other")

        def reader():
            yield from zl.zspage_read_lock()
            yield sleep("decompress")       # readers may sleep while holding (rule 5)
            yield from zl.zspage_read_unlock()

        def writer():
            if blocking_writer:
                yield zl.dep.acquire()
                ok = True
            else:
                ok = yield from zl.zspage_write_trylock()
            if ok:
                for act in writer_extra:
                    yield act(other)
                if blocking_writer:
                    yield zl.dep.release()
                else:
                    yield from zl.zspage_write_unlock()
        return Program([Task(reader, name="reader", cpu=0), Task(writer, name="zs_page_migrate", cpu=0)],
                       context=Ctx())
    return build


def check(build, scheduler, stop=True):
    return explore(build, scheduler=scheduler, properties=["writers-never-block"],
                   stop_on_violation=stop)


@BOTH
@pytest.mark.parametrize("version", [Upstream, V5])
def test_correct_zspage_locks_are_silent(scheduler, version):
    r = check(program(version), scheduler)
    assert r.ok and r.complete and r.executions > 1


@BOTH
@pytest.mark.parametrize("version", [Upstream, V5])
def test_blocking_write_acquisition(scheduler, version):
    r = check(program(version, blocking_writer=True), scheduler)
    assert len(r.violations) == 1
    assert r.violations[0].message == (
        "zs_page_migrate takes lockdep_map zspage (class zspage->lock) for write with a blocking "
        "acquisition; writers must only trylock it and handle failure (rule 3)")


@BOTH
@pytest.mark.parametrize("version", [Upstream, V5])
@pytest.mark.parametrize("act,what", [
    (lambda m: sleep(), "sleeps (schedule())"),
    (lambda m: cond_resched(), "calls cond_resched()"),
    (lambda m: might_sleep(), "calls might_sleep()"),
    (lambda m: m.acquire(), "may sleep waiting for mutex other"),
])
def test_writer_waits_while_holding(scheduler, version, act, what):
    r = check(program(version, writer_extra=[act, lambda m: m.release()]
                      if "mutex" in what else [act]), scheduler)
    assert len(r.violations) == 1
    v = r.violations[0]
    assert v.message == (f"zs_page_migrate {what} while holding lockdep_map zspage (class zspage->lock) "
                         "for write; writers never wait (rule 2, writers are always atomic)")
    assert v.task == "zs_page_migrate"


@BOTH
@pytest.mark.parametrize("version", [Upstream, V5])
def test_writer_taking_a_spinlock_while_holding_is_atomic_and_silent(scheduler, version):
    # Red team round 3 (v5_migrate_trylock_before_class_lock): a writer that takes a spinning
    # lock inside its section stays atomic, and the lock's holders are atomic too: the wait
    # is bounded, rule 2 holds. (A cycle through it is lock-order's and deadlock's.)
    def build():
        zl, spin = version(), SpinLock("class->lock")

        def reader():
            yield from zl.zspage_read_lock()
            yield sleep("decompress")
            yield from zl.zspage_read_unlock()

        def holder():
            yield spin.acquire()
            yield spin.release()

        def writer():
            if (yield from zl.zspage_write_trylock()):
                yield spin.acquire()
                yield spin.release()
                yield from zl.zspage_write_unlock()
        return Program([Task(reader, name="reader", cpu=0), Task(holder, name="holder", cpu=1),
                        Task(writer, name="zs_page_migrate", cpu=0)], context=Ctx())
    r = check(build, scheduler, stop=False)
    assert r.violations == [] and r.complete
    # The same writer waiting for a sleeping lock is still reported (rule 2).
    r = check(program(version, writer_extra=[lambda m: m.acquire(), lambda m: m.release()]), scheduler)
    assert [v.property for v in r.violations] == ["writers-never-block"]


@BOTH
def test_writer_spinning_while_holding(scheduler):
    def build():
        d, flag = LockMap("zs", cls=ZSPAGE), Var("flag", 1)

        def writer():
            yield preempt_disable()
            yield d.try_acquire()
            yield flag.spin_until(lambda v: v == 1)
            yield d.release()
            yield preempt_enable()
        return Program([Task(writer, name="W")], context=Ctx())
    r = check(build, scheduler)
    assert len(r.violations) == 1 and "W spins waiting on flag while holding" in r.violations[0].message


@BOTH
@pytest.mark.parametrize("version", [lambda: Upstream(preemptible_writer=True),
                                     lambda: V5(forget_preempt_disable=True)])
def test_preemptible_writer(scheduler, version):
    """Hazard 14: the write side held with preempt count 0."""
    r = check(program(version), scheduler)
    assert len(r.violations) == 1
    v = r.violations[0]
    assert v.message.startswith("zs_page_migrate is preemptible while holding lockdep_map zspage "
                                "(class zspage->lock) for write (preempt count 0)")
    steps = {s.index: s for s in v.steps}
    assert steps[v.involved[0]].action == "trylock(zspage)"


@BOTH
def test_legacy_rwlock_writer_blocks_by_design(scheduler):
    """Legacy migrate_write_lock is a blocking write_lock on an rwlock_t: reported (rule 3)."""
    def build():
        zl = RwLock("zspage", cls=ZSPAGE)

        def reader():
            yield zl.acquire(shared=True)
            yield zl.release()

        def writer():
            yield zl.acquire()
            yield zl.release()
        return Program([Task(reader), Task(writer, name="migrate_write_lock")], context=Ctx())
    r = check(build, scheduler)
    assert len(r.violations) == 1
    assert r.violations[0].message.startswith("migrate_write_lock takes rwlock_t zspage "
                                              "(class zspage->lock) for write with a blocking")


@BOTH
def test_readers_may_spin_and_sleep_while_holding(scheduler):
    def build():
        zl, other, flag = RwLock("zspage", cls=ZSPAGE), SpinLock("S"), Var("f", 1)

        def reader():
            yield zl.acquire(shared=True)
            yield other.acquire()
            yield other.release()
            yield flag.spin_until(lambda v: v == 1)
            yield zl.release()
        return Program([Task(reader)], context=Ctx())
    assert check(build, scheduler).ok


def test_applies_only_when_the_model_names_the_lock():
    def body():
        yield sleep()
    with_ctx = Program([Task(body)], context=Ctx())
    without = Program([Task(body)])
    assert "writers-never-block" in select(None, with_ctx).names
    assert "writers-never-block" not in select(None, without).names
    assert "writers-never-block" not in select(None, Program([Task(body)], context=Ctx(frozenset()))).names


# -- PREEMPT_RT (checker.config) -------------------------------------------------------------
def _rt(variant, scenario):
    from model.registry import make_build
    build, _ = make_build(variant, scenario, 1, config="rt")
    return explore(build, properties=["writers-never-block"], stop_on_violation=True, time_limit=60)


def test_on_rt_a_writer_holding_the_sleeping_zsl_lock_may_be_preempted():
    # 6.15 on RT: zsl->lock is an rt_mutex, so the writer section is preemptible and a
    # reader that meets it blocks with priority inheritance instead of spinning.
    from model.registry import VERSIONS
    for scenario in ("up-read-migrate", "read-compact", "compact-migrate"):
        r = _rt(VERSIONS["upstream"], scenario)
        assert r.complete and not r.violations, (scenario, [v.message for v in r.violations])


def test_on_rt_a_preemptible_writer_readers_spin_on_is_still_reported():
    # v5's readers spin on the counter whatever the kernel: a writer without its
    # preempt_disable is the same bug on RT.
    from model.registry import variant_for
    r = _rt(variant_for("v5", "preemptible-writer"), "up-read-migrate")
    assert [v.property for v in r.violations] == ["writers-never-block"]
    assert "preemptible while holding" in r.violations[0].message
