"""checker.config: the kernel configuration decides what a lock type does (PREEMPT_RT)."""

from __future__ import annotations

import pytest

from checker import (LocalLock, ModelError, Program, RawSpinLock, RwLock, SpinLock, Task, Var, explore,
                     preempt_disable, preempt_enable)
from checker.config import DEFAULT, RT, current, kernel_config


def _outcomes(build, scheduler="dpor"):
    r = explore(build, scheduler=scheduler, properties=[], stop_on_violation=False)
    assert r.complete
    return r.outcomes


def two_on_one_cpu(make_lock, config):
    """a: lock; x = 1; x = 2; unlock.  b (same CPU): reads x once.  b sees 1 only if
    a can be preempted while it holds the lock."""
    def build():
        lk = make_lock()
        x = Var("x", 0)
        seen = []

        def a():
            yield lk.acquire()
            yield x.write(1)
            yield x.write(2)
            yield lk.release()

        def b():
            seen.append((yield x.read()))
        return Program([Task(a, "a", 0), Task(b, "b", 0)], config=config,
                       observe=lambda: seen[0])
    return build


@pytest.mark.parametrize("make_lock", [lambda: SpinLock("lk"), lambda: RwLock("lk")],
                         ids=["spinlock_t", "rwlock_t"])
def test_a_spinlock_holder_is_atomic_on_default_and_preemptible_on_rt(make_lock):
    assert _outcomes(two_on_one_cpu(make_lock, None)) == {0, 2}
    assert _outcomes(two_on_one_cpu(make_lock, "rt")) == {0, 1, 2}


def test_a_raw_spinlock_keeps_its_holder_atomic_on_rt():
    build = two_on_one_cpu(lambda: RawSpinLock("lk"), "rt")
    assert _outcomes(build) == {0, 2}


def test_rt_results_agree_with_dfs():
    for make in (lambda: SpinLock("lk"), lambda: RwLock("lk"), lambda: RawSpinLock("lk")):
        build = two_on_one_cpu(make, "rt")
        assert _outcomes(build, "dpor") == _outcomes(build, "dfs")


def rt_lock_inside_preempt_disable(make_lock, config):
    def build():
        lk = make_lock()

        def t():
            yield preempt_disable()
            yield lk.acquire()
            yield lk.release()
            yield preempt_enable()
        return Program([Task(t, "a", 0)], config=config)
    return build


@pytest.mark.parametrize("make_lock", [lambda: SpinLock("lk"), lambda: RwLock("lk")],
                         ids=["spinlock_t", "rwlock_t"])
def test_a_spinlock_taken_with_preemption_disabled_sleeps_in_atomic_on_rt_only(make_lock):
    quiet = explore(rt_lock_inside_preempt_disable(make_lock, None))
    assert quiet.complete and not quiet.violations
    loud = explore(rt_lock_inside_preempt_disable(make_lock, "rt"))
    [v] = loud.violations
    assert v.property == "sleep-in-atomic" and "lk" in v.message and "preempt count 1" in v.message


def test_a_raw_spinlock_taken_with_preemption_disabled_is_fine_on_rt():
    r = explore(rt_lock_inside_preempt_disable(lambda: RawSpinLock("lk"), "rt"))
    assert r.complete and not r.violations


def local_lock_users(config, use_local_lock=True):
    """Two tasks of CPU 0 update a per-CPU counter under local_lock (or preempt_disable)."""
    def build():
        ll = LocalLock("area[0].lock")
        n = Var("n", 0)

        def user():
            yield ll.acquire() if use_local_lock else preempt_disable()
            v = yield n.read()
            yield n.write(v + 1)
            yield ll.release() if use_local_lock else preempt_enable()
        return Program([Task(user, "u", 0), Task(user, "v", 0)], config=config,
                       observe=lambda: n.value)
    return build


def test_local_lock_is_preempt_disable_on_default():
    mine = explore(local_lock_users(None), properties=[], stop_on_violation=False)
    plain = explore(local_lock_users(None, use_local_lock=False), properties=[],
                    stop_on_violation=False)
    assert mine.complete and mine.outcomes == plain.outcomes == {2}
    assert mine.executions == plain.executions and mine.steps == plain.steps


def test_local_lock_is_a_sleeping_lock_on_rt():
    # Still mutual exclusion for the tasks of its CPU, by a lock now: no lost update.
    r = explore(local_lock_users("rt"), stop_on_violation=False)
    assert r.complete and not r.violations and r.outcomes == {2}
    # And its holder is preemptible: a task of the CPU that does not take it runs
    # inside the section on RT, never on !RT.
    assert _outcomes(two_on_one_cpu(lambda: LocalLock("l"), None)) == {0, 2}
    assert _outcomes(two_on_one_cpu(lambda: LocalLock("l"), "rt")) == {0, 1, 2}


def test_local_lock_misuse_is_a_model_error():
    with pytest.raises(ModelError, match="no shared mode"):
        LocalLock("l").acquire(shared=True)
    with pytest.raises(ModelError, match="no trylock"):
        LocalLock("l").try_acquire()


def test_the_configuration_is_the_programs_and_is_put_back():
    with pytest.raises(ModelError, match="unknown kernel config 'preempt-full'"):
        Program([Task(lambda: (yield preempt_disable()), "a")], config="preempt-full")
    assert Program([Task(lambda: (yield preempt_disable()), "a")]).config is DEFAULT
    explore(rt_lock_inside_preempt_disable(lambda: SpinLock("lk"), "rt"))
    assert current() is DEFAULT
    with kernel_config("rt"):
        assert current() is RT and not SpinLock("s").spinning and RawSpinLock("r").spinning
    assert SpinLock("s").spinning
