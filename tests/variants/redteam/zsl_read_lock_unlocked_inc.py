"""zspage_read_lock (6.15): "readers only need to wait for a writer": spin until zsl->lock is
free (spin_lock + spin_unlock), then cnt++ without holding it (§1 c)."""
from model import Upstream


class ZslReadLockUnlockedInc(Upstream):
    def zspage_read_lock(self, zspage):
        zsl = zspage.zl
        yield zsl.dep_map.acquire(shared=True)
        yield zsl.lock.acquire()
        yield zsl.lock.release()
        yield zsl.cnt.add(1)
