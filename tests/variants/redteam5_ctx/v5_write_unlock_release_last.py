"""v5 zspage_write_unlock stores the unlocked value before the lockdep release ("unlock,
then tell lockdep")::

    atomic_set_release(lock, ZS_PAGE_UNLOCKED);
    rwsem_release(&zspage->dep_map, _RET_IP_);
    preempt_enable();

The lock is free from the store on; the annotation outlives it by one step inside the same
preempt-disabled section (lockdep only records a release; no other task reads the map).
Writers stay atomic while the word is -1.  Verdict: not a bug.
"""
from checker import preempt_enable
from model import V5
from model.zspage_lock import ZS_PAGE_UNLOCKED


class V5WriteUnlockReleaseLast(V5):
    def zspage_write_unlock(self, zspage):
        zl = zspage.zl
        yield zl.cnt.write(ZS_PAGE_UNLOCKED, self.WRITE_UNLOCK_ORDER)
        yield zl.dep_map.release()
        yield preempt_enable()
