"""A caller patch on (a): the zsmalloc user reads an object with zs_map_object from a hard
interrupt handler ("decompress in the completion IRQ").  (a) forbids it with
BUG_ON(in_interrupt()): the per-CPU area is not IRQ-safe (a nested map on the same CPU
corrupts vm_buf), and an interrupted migrator holding migrate_lock (W) on that CPU would
make the handler spin forever on migrate_lock (R).  A real bug: hazard 20 and hazard 13,
§2.3 a step 1."""
from model import Legacy


class LegacyMapFromIrq(Legacy):
    IRQ_CLIENTS = ("irqreader",)
