"""A 6.11-6.14 (a) zsmalloc user maps objects from a hard interrupt handler (a completion
callback reads the compressed page with zs_map_object/zs_unmap_object).

(a) has BUG_ON(in_interrupt()) in zs_map_object for this reason: the per-CPU area is used
between map and unmap, and pool->migrate_lock and zspage->lock are not IRQ-safe; an
interrupt on a CPU whose task holds zspage->lock for write (a blocking migrate_write_lock
in migration) spins on it for ever (§2.3 a step 1, §3 context rules, hazard 20).
Verdict: a real bug.
"""
from model import Legacy


class LegacyMapFromIrq(Legacy):
    IRQ_CLIENTS = ("irqreader",)
