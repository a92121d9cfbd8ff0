"""v5 zspage_read_lock: wait with a relaxed read, order only the cmpxchg that takes the lock
(the shape of queued_spin_lock's fast path and of v5 after review)::

             rwsem_acquire_read(&zspage->lockdep_map, 0, 0, _RET_IP_);
    -        old = atomic_read_acquire(lock);
    +        old = atomic_read(lock);
             do {
                     if (old == ZS_PAGE_WRLOCKED) {
                             cpu_relax();
    -                        old = atomic_read_acquire(lock);
    +                        old = atomic_read(lock);
                             continue;
                     }
             } while (!atomic_try_cmpxchg_acquire(lock, &old, old + 1));

Verdict from the protocol before running zsmc: NOT A BUG, under any memory model.  The
waiting read decides nothing the reader then relies on: the lock is taken only by the
successful cmpxchg, an acquire RMW that reads the latest value of the counter (the writer's
release store of 0, or another reader's increment or release decrement after it), so the
reader is ordered after the last writer's section exactly as with v5's acquire load (hazard
16 asks for ACQUIRE on the acquisition, which is the cmpxchg).  v5, --memory-model ra:
write-migrate, read-compact, free-deferred pass.  A correct twin.
"""
from checker.atomics import ACQUIRE, RELAXED
from model import V5


def _not_wrlocked(v):
    return v != -1


class V5ReadLockRelaxedSpin(V5):
    def zspage_read_lock(self, zspage):
        zl = zspage.zl
        yield zl.dep_map.acquire(shared=True)
        while True:
            old = yield zl.cnt.spin_until(_not_wrlocked, RELAXED)
            seen = yield zl.cnt.cmpxchg(old, old + 1, ACQUIRE)
            if seen == old:
                return
