"""zspage_read_unlock (c): the rwsem_release(&zsl->dep_map) annotation dropped while
"simplifying" (the lock is a spinlock plus a counter; lockdep "only matters for the
spinlock").  The real counter is right, but lockdep still believes every reader holds
zspage->lock: it reports "lock held when returning to user space" and, worse, records a
false dependency from zspage->lock to every lock the task takes later.  A real bug in the
annotations (§1 c: lockdep release on read unlock; v5/v10 lockdep maps)."""
from model import Upstream


class ZslReadUnlockNoLockdepRelease(Upstream):
    def zspage_read_unlock(self, zspage):
        zsl = zspage.zl
        yield zsl.lock.acquire()
        yield zsl.cnt.add(-1)
        yield zsl.lock.release()
