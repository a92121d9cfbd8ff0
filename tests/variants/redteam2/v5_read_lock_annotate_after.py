"""v5 zspage_read_lock: the lockdep annotation rwsem_acquire_read() moved after the
cmpxchg loop ("annotate once we really hold it", as some hand-made locks do).  NOT a bug:
lockdep annotations do not change what the lock does; the read side only spins on an
atomic writer (§1 b, rule 4 of §3), and the dependency lockdep records is the same."""
from model import V5
from model.zspage_lock import _not_wrlocked


class V5ReadLockAnnotateAfter(V5):
    def zspage_read_lock(self, zspage):
        zl = zspage.zl
        while True:
            old = yield zl.cnt.spin_until(_not_wrlocked, self.READ_LOCK_ORDER)
            seen = yield zl.cnt.cmpxchg(old, old + 1, self.READ_LOCK_ORDER)
            if seen == old:
                break
        yield zl.dep_map.acquire(shared=True)
