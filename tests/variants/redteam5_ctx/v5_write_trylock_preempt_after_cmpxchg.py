"""v5 zspage_try_write_lock disables preemption only once the lock is won ("no need to
disable preemption for a failed attempt")::

    if (!atomic_try_cmpxchg_acquire(lock, &old, ZS_PAGE_WRLOCKED))
            return false;
    preempt_disable();
    rwsem_acquire(&zspage->dep_map, 0, 1, _RET_IP_);
    return true;

!PREEMPT_RT: both callers hold class->lock (a spinning lock) around the trylock, so the
writer is atomic between the cmpxchg and preempt_disable(): no change.  PREEMPT_RT: class->lock
and pool->lock are sleeping there, so the writer holds the write lock while preemptible for
that window; a reader (which spins on -1 in v5, §1 b) of higher priority on its CPU spins
for ever (hazard 14; hazard 26).  Verdict: not a bug on !RT, a real bug on RT.
"""
from checker import preempt_disable
from model import V5
from model.zspage_lock import ZS_PAGE_UNLOCKED, ZS_PAGE_WRLOCKED


class V5WriteTrylockPreemptAfterCmpxchg(V5):
    def zspage_write_trylock(self, zspage):
        zl = zspage.zl
        seen = yield zl.cnt.cmpxchg(ZS_PAGE_UNLOCKED, ZS_PAGE_WRLOCKED, self.WRITE_LOCK_ORDER)
        if seen != ZS_PAGE_UNLOCKED:
            return False
        yield preempt_disable()
        yield zl.dep_map.try_acquire()
        return True
