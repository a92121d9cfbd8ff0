"""Legacy zs_map_object maps every object in place: a patch that drops the per-CPU area's
copy for spanning objects ("kmap_local of the first page is enough").

Verdict from the protocol document: REAL BUG.  §2.3 a step 4: only an object inside one page
is mapped in place; a spanning object must be copied into ``area->vm_buf`` (unless
write-only), since its two halves are not contiguous.
"""
from model import Legacy
from model.access import Mem


class MapSpanningInPlace(Legacy):
    def zs_map_object(self, handle, mm):
        _, page, idx, pins = yield from self._lookup_and_read_lock(handle, "zs_map_object")
        yield from self.local_lock()
        area = self.pool.map_area[self.cpu]
        yield area.vm_mm.write(mm)
        self.mapped[handle.key] = pins
        return Mem("page", page, idx)
