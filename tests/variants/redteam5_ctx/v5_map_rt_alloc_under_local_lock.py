"""v5 zs_map_object: "on PREEMPT_RT local_lock is a per-CPU sleeping lock, so the bounce
buffer of a spanning object may be allocated lazily with GFP_KERNEL inside it"::

    local_lock(&zs_map_area.lock);
    if (IS_ENABLED(CONFIG_PREEMPT_RT) && !area->vm_buf)
            area->vm_buf = kmalloc(ZS_MAX_ALLOC_SIZE, GFP_KERNEL);   /* may sleep */

(modelled as might_sleep() after local_lock on RT.)  !PREEMPT_RT: compiled out.  PREEMPT_RT:
local_lock_t is a spinlock_t there; a GFP_KERNEL allocation may sleep in reclaim, which is
invalid while holding it (locktypes.rst: local_lock is a CPU-local lock type, sleeping lock
types cannot nest inside it; __might_resched under the lock's rcu_read_lock).  Verdict:
not a bug on !RT, a real bug on RT (§2.3 a step 3, hazard 26).
"""
from checker import might_sleep
from checker.config import preempt_rt
from model import V5


class V5MapRtAllocUnderLocalLock(V5):
    def local_lock(self):
        yield self.pool.map_area[self.cpu].lock.acquire()
        if preempt_rt():
            yield might_sleep()
