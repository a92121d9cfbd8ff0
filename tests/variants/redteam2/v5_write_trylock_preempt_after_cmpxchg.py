"""v5 zspage_write_trylock: preempt_disable() moved after a successful cmpxchg(0 -> -1)
("only disable preemption when we got the lock; saves a preempt_enable on failure").
NOT a bug on !PREEMPT_RT: both writers (zs_page_migrate, __zs_compact) call the trylock
holding pool->lock (W) and class->lock, spinning locks that already disable preemption, so
there is no preemptible instant between the cmpxchg and preempt_disable (§1 b, §2.4 c,
§2.5 step 4; rule 2 of §3 still holds).  (On PREEMPT_RT those locks sleep and the writer
could be preempted in that window: hazard 26, not checked by the default configuration.)"""
from checker import preempt_disable
from model import V5
from model.zspage_lock import ZS_PAGE_UNLOCKED, ZS_PAGE_WRLOCKED


class V5WriteTrylockPreemptAfterCmpxchg(V5):
    def zspage_write_trylock(self, zspage):
        zl = zspage.zl
        seen = yield zl.cnt.cmpxchg(ZS_PAGE_UNLOCKED, ZS_PAGE_WRLOCKED, self.WRITE_LOCK_ORDER)
        if seen == ZS_PAGE_UNLOCKED:
            yield preempt_disable()
            yield zl.dep_map.try_acquire()
            return True
        return False
