"""``sleep-in-atomic``: no sleeping with a non-zero preempt count (generic programs)."""

from __future__ import annotations

import pytest

from checker import (LockMap, Mutex, Obj, PageLock, Program, RwLock, RwSemaphore, SpinLock, Task,
                     cond_resched, explore, might_sleep, preempt_disable, preempt_enable, sleep)

BOTH = pytest.mark.parametrize("scheduler", ["dfs", "dpor"])


def one_task(body):
    def build():
        return Program([Task(body, name="T")])
    return build


def check(build, scheduler):
    return explore(build, scheduler=scheduler, properties=["sleep-in-atomic"])


@BOTH
def test_mutex_under_spinlock(scheduler):
    def t():
        a, m = SpinLock("A"), Mutex("M")
        yield a.acquire()
        yield m.acquire()
        yield m.release()
        yield a.release()
    r = check(one_task(t), scheduler)
    assert len(r.violations) == 1
    v = r.violations[0]
    assert v.property == "sleep-in-atomic" and v.task == "T"
    assert v.message == ("sleeping function called from invalid context: T takes mutex M "
                         "(mutex_lock, may sleep) with preempt count 1, holding spinlock_t A")
    assert v.involved == (0,) and v.step == 0


@BOTH
@pytest.mark.parametrize("call,word", [(sleep, "schedule()"), (cond_resched, "cond_resched()"),
                                       (might_sleep, "might_sleep()")])
def test_sleeping_calls_inside_preempt_disable(scheduler, call, word):
    """The legacy mapping section: zs_map_object's local_lock is a preempt_disable()."""
    def t():
        area = Obj("zs_map_area")
        yield preempt_disable()
        yield area.pin()
        yield call()
        yield area.unpin()
        yield preempt_enable()
    r = check(one_task(t), scheduler)
    assert len(r.violations) == 1
    msg = r.violations[0].message
    assert f"T calls {word} with preempt count 1, inside preempt_disable() (depth 1)" in msg
    assert r.violations[0].involved == (0, 1)


@BOTH
@pytest.mark.parametrize("kind,call", [(PageLock, "lock_page"), (RwSemaphore, "down_write")])
def test_sleeping_locks_under_read_lock(scheduler, kind, call):
    def t():
        rw, s = RwLock("pool->lock"), kind("S")
        yield rw.acquire(shared=True)
        yield s.acquire()
        yield s.release()
        yield rw.release()
    r = check(one_task(t), scheduler)
    assert len(r.violations) == 1
    assert f"({call}, may sleep)" in r.violations[0].message
    assert "holding rwlock_t pool->lock (read)" in r.violations[0].message


@BOTH
def test_sleeping_where_preemptible_is_fine(scheduler):
    def t():
        a, m, s, d = SpinLock("A"), Mutex("M"), RwSemaphore("S"), LockMap("zspage->lock")
        yield m.acquire()          # a mutex, then a spinlock inside it: fine
        yield a.acquire()
        ok = yield m.try_acquire() # a trylock never sleeps (and fails: M is held)
        assert not ok
        ok = yield s.try_acquire(shared=True)
        assert ok
        yield d.acquire(shared=True)   # a lockdep annotation never waits
        yield d.release()
        yield s.release()
        yield a.release()
        yield cond_resched()
        yield s.acquire(shared=True)
        yield sleep()
        yield s.release()
        yield m.release()
        yield preempt_disable()
        yield preempt_enable()
        yield might_sleep()
    r = check(one_task(t), scheduler)
    assert r.ok and r.complete


@BOTH
def test_concurrent_tasks_only_the_atomic_one_is_reported(scheduler):
    def build():
        a, m = SpinLock("A"), Mutex("M")

        def atomic():
            yield a.acquire()
            yield sleep()
            yield a.release()

        def fine():
            yield m.acquire()
            yield sleep()
            yield m.release()
        return Program([Task(fine, name="fine"), Task(atomic, name="atomic")])
    r = explore(build, scheduler=scheduler, properties=["sleep-in-atomic"], stop_on_violation=False)
    assert r.complete and {v.task for v in r.violations} == {"atomic"}
    assert len(r.violations) == 1       # the same finding in every execution, merged


# -- after "scheduling while atomic" the kernel schedules anyway -------------------------------

def sleeper_and_other(scheduler):
    """One CPU: A takes a spinlock and calls schedule(); C, which needs no lock, may then
    run before A resumes: the CPU is free while A sleeps."""
    from checker import Program, SpinLock, Task, Var, explore, sleep

    def build():
        lk = SpinLock("l")
        v = Var("v", 0)
        seen = []

        def a():
            yield lk.acquire()
            yield sleep()
            seen.append((yield v.read()))
            yield lk.release()

        def c():
            yield v.write(1)

        return Program([Task(a, "A", cpu=0), Task(c, "C", cpu=0)], cpus=1, observe=lambda: tuple(seen))

    return explore(build, scheduler=scheduler, properties=["sleep-in-atomic"], stop_on_violation=False)


@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_a_task_that_sleeps_in_atomic_context_gives_up_its_cpu(scheduler):
    r = sleeper_and_other(scheduler)
    assert {v.property for v in r.violations} == {"sleep-in-atomic"}
    # C ran while A slept holding the spinlock (A read 1): that needs the CPU given up.
    assert r.outcomes == {(0,), (1,)}
