"""v5 zspage_read_lock: the reader spins until the counter is 0 (not merely != -1) before its
cmpxchg, "to let a waiting writer in first".  Readers now wait for readers: a reader that
holds the lock and sleeps (obj_read, zram decompressing) or is preempted makes the next
reader spin, and that one spins holding pool->lock R (atomic): on one CPU the holder never
runs.  A real bug: rules 1 and 4 of §3 (readers are blocked only by writers, which are
atomic), §1 b read lock."""
from model import V5


def _unlocked(v):
    return v == 0


class V5ReadLockWaitsForReaders(V5):
    def zspage_read_lock(self, zspage):
        zl = zspage.zl
        yield zl.dep_map.acquire(shared=True)
        while True:
            old = yield zl.cnt.spin_until(_unlocked, self.READ_LOCK_ORDER)
            seen = yield zl.cnt.cmpxchg(old, old + 1, self.READ_LOCK_ORDER)
            if seen == old:
                return
