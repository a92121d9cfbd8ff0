"""v5 zs_obj_read_begin: a spanning object is copied into the per-CPU zs_map_area buffer
under local_lock, as zs_map_object does ("reuse the existing bounce buffer instead of
asking callers for one"), and zs_obj_read_end does the local_unlock.  The new API's point
is that the reader may sleep between begin and end (zram decompresses there); with the
local_lock held it is atomic for that whole time: sleeping in atomic context (and on one
CPU a second user of the area would overwrite it).  A real bug (§1 b: the new API "uses a
caller-supplied bounce buffer instead of the per-CPU area, so it is preemptible"; hazard 13)."""
from checker import Bug
from model import V5
from model.access import Mem


class V5ReadBeginUsesMapArea(V5):
    def zs_obj_read_begin(self, handle):
        zspage, page, idx, pins = yield from self._lookup_and_read_lock(handle, "zs_obj_read_begin")
        _, _, spans = zspage.cls.geometry.location(idx)
        self.mapped[handle.key] = pins
        if not spans:
            return Mem("page", page, idx)
        yield from self.local_lock()
        area = self.pool.map_area[self.cpu]
        nxt = yield from self.get_next_zpdesc(page)
        if nxt is None:
            raise Bug(f"zs_obj_read_begin: {page.name} has no next page")
        yield area.vm_mm.write(1)       # ZS_MM_RO
        yield from self._zs_map_object(area, (page, nxt), idx)
        return Mem("area", area=area)

    def zs_obj_read_end(self, handle, mem):
        obj = yield from self.handle_to_obj(handle)
        zspage = yield from self.get_zspage(self.obj_to_zpdesc(obj))
        if mem.kind == "area":
            yield from self.local_unlock()
        for o in reversed(self.mapped.pop(handle.key, ())):
            yield o.unpin()
        yield from self.zspage_read_unlock(zspage)
