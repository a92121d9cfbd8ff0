"""v5 zspage_try_write_lock re-enables preemption as soon as the cmpxchg succeeded ("our
callers hold pool->lock and class->lock, spinning locks, so the writer is atomic anyway;
the extra preempt_disable is redundant"), and zspage_write_unlock no longer enables it::

    preempt_disable();
    if (atomic_try_cmpxchg_acquire(lock, &old, ZS_PAGE_WRLOCKED)) {
            rwsem_acquire(&zspage->dep_map, 0, 1, _RET_IP_);
            preempt_enable();
            return true;
    }
    preempt_enable();
    return false;

Wrong on !RT: zs_page_migrate releases pool->lock and class->lock *before* the zspage write
unlock (§2.5 step 9), so the writer is preemptible in that window while holding the write
lock; a reader spinning on -1 on its CPU (lock_zspage of the worker) spins for ever (hazard
14, rule 2).  On RT the whole write section is preemptible.  Verdict: a real bug.
"""
from checker import preempt_disable, preempt_enable
from model import V5
from model.zspage_lock import ZS_PAGE_UNLOCKED, ZS_PAGE_WRLOCKED


class V5WriteTrylockPreemptEnableEarly(V5):
    def zspage_write_trylock(self, zspage):
        zl = zspage.zl
        yield preempt_disable()
        seen = yield zl.cnt.cmpxchg(ZS_PAGE_UNLOCKED, ZS_PAGE_WRLOCKED, self.WRITE_LOCK_ORDER)
        if seen == ZS_PAGE_UNLOCKED:
            yield zl.dep_map.try_acquire()
            yield preempt_enable()
            return True
        yield preempt_enable()
        return False

    def zspage_write_unlock(self, zspage):
        zl = zspage.zl
        yield zl.dep_map.release()
        yield zl.cnt.write(ZS_PAGE_UNLOCKED, self.WRITE_UNLOCK_ORDER)
