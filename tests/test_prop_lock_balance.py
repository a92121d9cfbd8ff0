"""``lock-balance``: a finished task holds no lock, no preempt count, no mapping."""

from __future__ import annotations

import pytest

from checker import LockMap, Mutex, Obj, Program, RwLock, Task, explore, preempt_disable, preempt_enable

BOTH = pytest.mark.parametrize("scheduler", ["dfs", "dpor"])


def check(body, scheduler):
    return explore(lambda: Program([Task(body, name="T")]), scheduler=scheduler,
                   properties=["lock-balance"])


@BOTH
def test_returning_with_a_lock_held(scheduler):
    def t():
        pool, m = RwLock("pool->lock"), Mutex("M")
        yield m.acquire()
        yield pool.acquire(shared=True)
        yield m.release()
    r = check(t, scheduler)
    assert len(r.violations) == 1
    v = r.violations[0]
    assert v.message == "T returned but still holds rwlock_t pool->lock (read)"
    assert v.involved == (1,) and v.step == 2


@BOTH
def test_returning_with_preemption_disabled(scheduler):
    def t():
        yield preempt_disable()
        yield preempt_disable()
        yield preempt_enable()
    r = check(t, scheduler)
    assert len(r.violations) == 1
    assert r.violations[0].message == ("T returned but returns with preempt count 1 "
                                       "(1 preempt_disable() without preempt_enable())")
    assert r.violations[0].involved == (0,)


@BOTH
def test_returning_with_a_mapping_left(scheduler):
    def t():
        zspage, page = Obj("zspage"), Obj("page")
        d = LockMap("zspage->lock")
        yield d.acquire(shared=True)
        yield zspage.pin()
        yield page.pin()
        yield page.unpin()
        yield d.release()
    r = check(t, scheduler)
    assert len(r.violations) == 1
    assert r.violations[0].message == "T returned but still maps zspage"
    assert r.violations[0].involved == (1,) and r.violations[0].step == 4


@BOTH
def test_balanced_task_is_silent(scheduler):
    def t():
        pool, o = RwLock("pool->lock"), Obj("o")
        yield preempt_disable()
        yield pool.acquire()
        yield o.pin()
        yield o.pin()
        yield o.unpin()
        yield o.unpin()
        yield pool.release()
        yield preempt_enable()
    r = check(t, scheduler)
    assert r.ok and r.complete
