"""v5 zspage_read_lock: when the cmpxchg(old -> old + 1) fails, fall back to atomic_inc()
instead of looping ("the cmpxchg only fails when another reader raced us, so just count
ourselves").  It also fails when a writer took the lock in between (0 -> -1): the
increment turns -1 into 0, so the reader proceeds inside a write section and the writer's
unlock then wipes the reader's count.  lock_zspage is the one reader not serialised
against writers by pool->lock (§3 observations), so the async free worker walks a chain
that migration is rewriting.  A real bug: a retry loop that gives up (§1 b read lock:
"loop -- if -1 cpu_relax and re-read; else cmpxchg")."""
from model import V5
from model.zspage_lock import _inc, _not_wrlocked


class V5ReadLockCmpxchgFallbackInc(V5):
    def zspage_read_lock(self, zspage):
        zl = zspage.zl
        yield zl.dep_map.acquire(shared=True)
        old = yield zl.cnt.spin_until(_not_wrlocked, self.READ_LOCK_ORDER)
        seen = yield zl.cnt.cmpxchg(old, old + 1, self.READ_LOCK_ORDER)
        if seen != old:
            yield zl.cnt.rmw(_inc, self.READ_LOCK_ORDER)
