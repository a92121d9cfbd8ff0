"""v5 zspage_write_trylock: the failure path returns false without preempt_enable() ("the
caller bails out anyway").  Each failed trylock (a reader holds the zspage) leaks one
preempt_disable: compaction breaks out of its loop and returns with preemption disabled,
migration returns -EINVAL atomic.  A real bug: an unbalanced preempt count (§1 b "on
failure preempt_enable() and return false")."""
from checker import preempt_disable
from model import V5
from model.zspage_lock import ZS_PAGE_UNLOCKED, ZS_PAGE_WRLOCKED


class V5WriteTrylockFailKeepsPreempt(V5):
    def zspage_write_trylock(self, zspage):
        zl = zspage.zl
        yield preempt_disable()
        seen = yield zl.cnt.cmpxchg(ZS_PAGE_UNLOCKED, ZS_PAGE_WRLOCKED, self.WRITE_LOCK_ORDER)
        if seen == ZS_PAGE_UNLOCKED:
            yield zl.dep_map.try_acquire()
            return True
        return False
