"""v5 zs_map_object: area->vm_mm = mm stored before local_lock ("it is our CPU's area")
(lock taken one statement late; §2.3 a step 3, hazard 13)."""
from model import V5
from model.access import Mem


class V5MapModeBeforeLocalLock(V5):
    def zs_map_object(self, handle, mm):
        zspage, page, idx, pins = yield from self._lookup_and_read_lock(handle, "zs_map_object")
        _, _, spans = zspage.cls.geometry.location(idx)
        area = self.pool.map_area[self.cpu]
        yield area.vm_mm.write(mm)
        yield from self.local_lock()
        self.mapped[handle.key] = pins
        if not spans:
            return Mem("page", page, idx)
        nxt = yield from self.get_next_zpdesc(page)
        yield from self._zs_map_object(area, (page, nxt), idx)
        return Mem("area", area=area)
