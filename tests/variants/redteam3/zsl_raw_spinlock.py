"""6.15 zspage_lock_init: zsl->lock made a raw_spinlock_t ("it is only held for a few
instructions by readers and a writer's copy is short").  Nothing sleeping is taken inside a
write section (pool->lock and class->lock are taken before ZWT and only released inside
it), so on PREEMPT_RT the writer is merely non-preemptible and readers spin instead of
blocking with PI: a latency change, not a locking bug; on !RT raw and plain spinlocks are
the same.  Not a bug (§1 c, hazard 26: the mismatch is *acquiring* an RT-sleeping lock in
an atomic region)."""
from checker import LockMap, RawSpinLock, Var
from model import Upstream
from model.zspage_lock import ZSPAGE_LOCK_CLASS, ZspageLock


class ZslRawSpinlock(Upstream):
    def zspage_lock_init(self, zspage):
        n = zspage.name
        z = zspage.obj
        lock = RawSpinLock(f"{n}.zsl->lock", "zsl->lock", owner=z)
        zspage.zl = ZspageLock(lock, Var(f"{n}.zsl.cnt", 0, counter=True, guard=lock, owner=z),
                               LockMap(f"{n}->lock", ZSPAGE_LOCK_CLASS, owner=z), z)
