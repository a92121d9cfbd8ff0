"""v5 (b) zs_obj_read_begin maps an in-page object with kmap_atomic(), as zs_map_object did
in older kernels ("kmap_atomic is cheaper than kmap_local on HIGHMEM"), and
zs_obj_read_end unmaps it with kunmap_atomic()::

    addr = kmap_atomic(zpdesc_page(zpdesc));    /* was kmap_local_zpdesc() */
    ...
    kunmap_atomic(addr);                        /* in zs_obj_read_end */

kmap_atomic() disables preemption (and page faults) on every kernel until kunmap_atomic().

Verdict from the protocol before running zsmc: a REAL BUG.  §1 b: the new API "uses a
caller-supplied bounce buffer instead of the per-CPU area, so it is preemptible while the
zspage read lock is held"; §2.3 c step 5: "The caller may now sleep/be preempted (zram
decompresses here)".  With kmap_atomic the caller is atomic from read_begin to read_end and
zram's sleeping decompression is a sleep in atomic context.  (A spanning object is copied
and not mapped: only the in-page case changes.)
"""
from checker import preempt_disable, preempt_enable
from model import V5


class V5ReadBeginKmapAtomic(V5):
    def zs_obj_read_begin(self, handle):
        mem = yield from V5.zs_obj_read_begin(self, handle)
        if mem.kind == "page":
            yield preempt_disable()
        return mem

    def zs_obj_read_end(self, handle, mem):
        if mem.kind == "page":
            yield preempt_enable()
        yield from V5.zs_obj_read_end(self, handle, mem)
