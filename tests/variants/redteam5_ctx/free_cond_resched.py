"""zs_free ends with a voluntary preemption point ("freeing a zspage can take a while; let
others run")::

    spin_unlock(&class->lock);
    cache_free_handle(handle);
    cond_resched();

No zsmalloc lock is held at that point, so inside zsmalloc nothing is wrong.  But zs_free
must be callable from atomic context: zram frees slots from its slot-free notification,
called by the swap code under a spinlock (§3 context rules: "zs_free must be callable from
atomic context (zram slot free under spinlock) -- this is why the RFC that made pool/class
locks sleepable was rejected and why free_zspage only trylocks pages"; hazard 27).
cond_resched() there is "sleeping function called from invalid context".  Verdict: a real
bug.
"""
from checker import cond_resched
from model import Upstream


class FreeCondResched(Upstream):
    def zs_free(self, handle):
        yield from Upstream.zs_free(self, handle)
        yield cond_resched()
