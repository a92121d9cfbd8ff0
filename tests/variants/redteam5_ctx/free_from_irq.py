"""A zsmalloc user frees objects from a hard interrupt handler (an I/O completion calls
zs_free for a slot whose write failed).

zs_free takes pool->lock (R) and class->lock; neither is IRQ-safe (§3: "nothing in zsmalloc
is IRQ-safe (no irqsave variants)"; hazard 20).  Migration and compaction take pool->lock
for write and everyone takes class->lock with interrupts enabled: an interrupt on a CPU whose
task holds class->lock (or pool->lock W) makes the handler spin on its own CPU for ever;
lockdep reports {IN-HARDIRQ-W} -> {HARDIRQ-ON-W} for class->lock.  Verdict: a real bug.
"""
from model import Upstream


class FreeFromIrq(Upstream):
    IRQ_CLIENTS = ("client0",)
