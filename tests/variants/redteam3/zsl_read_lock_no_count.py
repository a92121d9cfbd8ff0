"""6.15 zspage_read_lock: "readers wait on zsl->lock, so taking it is the read lock": the
`cnt++` is dropped (and zspage_read_unlock's `cnt--` with it).  cnt stays 0 while readers
hold the zspage, so a writer's trylock succeeds under a sleeping reader and compaction or
migration moves and frees the object it maps.  A real bug: rules 1 and 5 of §3 (writers are
blocked by readers, readers may sleep holding the lock), I3."""
from model import Upstream


class ZslReadLockNoCount(Upstream):
    def zspage_read_lock(self, zspage):
        zsl = zspage.zl
        yield zsl.dep_map.acquire(shared=True)
        yield zsl.lock.acquire()
        yield zsl.lock.release()

    def zspage_read_unlock(self, zspage):
        zsl = zspage.zl
        yield zsl.dep_map.release()
        yield zsl.lock.acquire()
        yield zsl.lock.release()
