"""6.15 zspage_read_lock: the `rwsem_acquire_read` annotation dropped ("readers can't
deadlock, they only spin briefly"), but zspage_read_unlock still calls rwsem_release.
Lockdep then sees a release of a lock the task does not hold ("bad unlock balance
detected!").  A real bug (the v5/v10 annotations of §1 b/c must pair)."""
from model import Upstream


class ZslReadLockNoLockdepAcquire(Upstream):
    def zspage_read_lock(self, zspage):
        zsl = zspage.zl
        yield zsl.lock.acquire()
        yield zsl.cnt.add(1)
        yield zsl.lock.release()
