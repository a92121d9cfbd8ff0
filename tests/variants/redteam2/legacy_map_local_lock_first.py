"""legacy zs_map_object: local_lock(&zs_map_area.lock) taken first, before
read_lock(&pool->migrate_lock) and the lookup ("pin the CPU before anything").  NOT a bug on
!PREEMPT_RT: local_lock is preempt_disable there, the whole map is atomic anyway, and no
writer ever takes the per-CPU lock, so no lock-order cycle appears (§2.3 a steps 2-3)."""
from checker import Bug, label
from model import Legacy
from model.access import Mem


class LegacyMapLocalLockFirst(Legacy):
    def zs_map_object(self, handle, mm):
        yield from self.local_lock()
        pool = self.pool
        yield pool.lock.acquire(shared=True)
        yield label("zs_map_object")
        obj = yield from self.handle_to_obj(handle)
        page, idx = self.obj_to_location(obj)
        zspage = yield from self.get_zspage(page)
        yield from self.zspage_read_lock(zspage)
        pins = [zspage.obj, page.obj]
        spans = zspage.cls.geometry.location(idx)[2]
        if spans and page.next is not None:
            pins.append(page.next.obj)
        for o in pins:
            yield o.pin()
        yield pool.lock.release()
        area = self.pool.map_area[self.cpu]
        yield area.vm_mm.write(mm)
        self.mapped[handle.key] = pins
        if not spans:
            return Mem("page", page, idx)
        nxt = yield from self.get_next_zpdesc(page)
        if nxt is None:
            raise Bug(f"zs_map_object: BUG_ON(!zpdescs[1]) for {page.name}")
        yield from self._zs_map_object(area, (page, nxt), idx)
        return Mem("area", area=area)
