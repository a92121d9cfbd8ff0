"""v5 zspage_read_lock: the cmpxchg loop replaced by "wait until not write-locked, then
atomic_inc" (Uros's review asked for a simpler loop): the check and the increment are no
longer one atomic step (§1 b)."""
from model import V5


def _not_wrlocked(v):
    return v != -1


class V5ReadLockCheckThenInc(V5):
    def zspage_read_lock(self, zspage):
        zl = zspage.zl
        yield zl.dep_map.acquire(shared=True)
        yield zl.cnt.spin_until(_not_wrlocked, self.READ_LOCK_ORDER)
        yield zl.cnt.add(1)
