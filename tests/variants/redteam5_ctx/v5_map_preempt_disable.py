"""v5 zs_map_object/zs_unmap_object: local_lock(&zs_map_area.lock) replaced by
preempt_disable()/preempt_enable() ("local_lock is preempt_disable anyway").

!PREEMPT_RT: identical (local_lock is preempt_disable plus a lockdep map).  PREEMPT_RT: the
mapping section becomes non-preemptible instead of holding a per-CPU sleeping lock: worse
latency, but nothing inside it sleeps or takes a lock (the zspage read lock is taken before
and released after; the copy to/from vm_buf and kmap_local take none), so no
sleeping-in-atomic and the per-CPU area is still exclusive (hazard 13 holds).  Verdict: not a
bug (on either configuration; an RT latency regression only).
"""
from checker import preempt_disable, preempt_enable
from model import V5


class V5MapPreemptDisable(V5):
    def local_lock(self):
        yield preempt_disable()

    def local_unlock(self):
        yield preempt_enable()
