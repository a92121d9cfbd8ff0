"""6.11-6.14 zs_map_object: the lazy GFP_KERNEL bounce-buffer allocation of
v5_map_sleep_after_read_lock.py, on (a)::

        migrate_read_lock(zspage);
        read_unlock(&pool->migrate_lock);
    +   if (unlikely(!area->vm_buf_allocated))
    +           zs_alloc_vm_buf(GFP_KERNEL);    /* may sleep */
        local_lock(&zs_map_area.lock);

Verdict from the protocol before running zsmc: a REAL BUG on (a).  There migrate_read_lock
is read_lock(&zspage->lock), an rwlock_t: spinning, atomic on !RT (§1 a: "a mapped object
pins the caller in atomic context (zspage rwlock read + local_lock)"; §3 context rules:
"everything from lookup to unmap is atomic").  A GFP_KERNEL allocation under it sleeps in
atomic context.  Legacy, any scenario that maps: sleep-in-atomic.
"""
from checker import Bug, might_sleep
from model import Legacy
from model.access import Mem


class LegacyMapSleepAfterReadLock(Legacy):
    def zs_map_object(self, handle, mm):
        zspage, page, idx, pins = yield from self._lookup_and_read_lock(handle, "zs_map_object")
        _, _, spans = zspage.cls.geometry.location(idx)
        yield might_sleep()
        yield from self.local_lock()
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
