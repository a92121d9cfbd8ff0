"""zram's read path moved to a hard interrupt handler (a completion callback reads the
compressed object with zs_obj_read_begin/end).  pool->lock and zsl->lock are not IRQ-safe:
an interrupt on a CPU whose task holds pool->lock for write (migration) or zsl->lock
(a writer section) makes the handler spin on a lock its own CPU holds, for ever; the
reader may also sleep between begin and end.  A real bug: hazard 20, §3 context rules
("nothing in zsmalloc is IRQ-safe")."""
from model import Upstream


class ObjReadFromIrq(Upstream):
    IRQ_CLIENTS = ("irqreader", "client0", "client1", "reader")
