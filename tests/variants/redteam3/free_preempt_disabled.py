"""zs_free wrapped in preempt_disable()/preempt_enable() ("zs_free must be atomic: its
callers hold spinlocks; make it explicit").  On !PREEMPT_RT the pool rwlock and the class
spinlock already disable preemption: no change.  On PREEMPT_RT both are sleeping locks, now
acquired inside an explicit preempt-disabled region: "sleeping function called from invalid
context".  Not a bug on !RT; a real bug on RT (hazard 26, §3 context rules)."""
from checker import preempt_disable, preempt_enable
from model import Upstream


class FreePreemptDisabled(Upstream):
    def zs_free(self, handle):
        yield preempt_disable()
        yield from Upstream.zs_free(self, handle)
        yield preempt_enable()
