"""v5 zs_map_object: allocate the bounce buffer lazily, with GFP_KERNEL, once the object is
found and before the per-CPU area is taken ("no need for a preallocated per-CPU vm_buf for
CPUs that never map a spanning object")::

        zspage_read_lock(zspage);
        pool_read_unlock(pool);
    +   if (unlikely(!area->vm_buf_allocated))
    +           zs_alloc_vm_buf(GFP_KERNEL);    /* may sleep */
        local_lock(&zs_map_area.lock);

(modelled as the might_sleep() of the allocation).  Verdict from the protocol before
running zsmc: NOT A BUG on v5.  v5's zspage read lock is the atomic counter, which a reader
may hold while sleeping (§1 b: "No preemption disabling; readers may sleep while holding";
rule 5 of §3), writers only trylock it, and pool->lock is already released; local_lock, the
only atomic part of the map API, comes after.  The same patch on 6.11-6.14 is a bug
(legacy_map_sleep_after_read_lock.py).  A correct twin.
"""
from checker import Bug, might_sleep
from model import V5
from model.access import Mem


class V5MapSleepAfterReadLock(V5):
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
