"""Two patches to legacy (6.11-6.14, section 1a), each lockdep-clean in the scenarios that
run it:

1. zs_page_putback scrubs this CPU's mapping area of the page it gives back, under the
   class lock of the page's zspage ("a failed migration must not leave object bytes in
   vm_buf")::

       spin_lock(&class->lock);
       local_lock(&zs_map_area.lock);
       memset(area->vm_buf, 0, ...);
       local_unlock(&zs_map_area.lock);
       spin_unlock(&class->lock);

2. zs_unmap_object accounts the access in the class before dropping the area::

       spin_lock(&class->lock);            /* zs_map_area.lock held */
       ... class stat ...
       spin_unlock(&class->lock);
       local_unlock(&zs_map_area.lock);

Lockdep: local_lock() is preempt_disable() plus local_lock_acquire() of the area lock's
dep_map on !PREEMPT_RT (include/linux/local_lock_internal.h), one class for every CPU:
(1) adds class->lock -> zs_map_area.lock, (2) zs_map_area.lock -> class->lock.  A real
ABBA on PREEMPT_RT, where local_lock_t is a per-CPU sleeping lock (a mapper preempted
inside its mapping, a putback on the same CPU holding class->lock); on !RT a lockdep
report.  No default scenario runs both: a putback happens in migrate-migrate only (the
second migration of a page fails), which maps nothing; the map API runs in the reading
and writing scenarios.  Verdict: a real bug (a lockdep report on both kernels, a deadlock
on RT), found only by a graph across scenarios.
"""
from checker import Bug, label
from model import Legacy


class PutbackScrubAreaUnderClassLock(Legacy):
    def zs_page_putback(self, page):
        yield from super().zs_page_putback(page)
        zspage = yield from self.get_zspage(page)
        cls = zspage.cls
        yield cls.lock.acquire()
        yield from self.local_lock()
        area = self.pool.map_area[self.cpu]
        yield area.vm_buf.write(None)
        yield from self.local_unlock()
        yield cls.lock.release()

    def zs_unmap_object(self, handle):
        yield label("zs_unmap_object")
        obj = yield from self.handle_to_obj(handle)
        if not obj:
            raise Bug(f"zs_unmap_object: handle {handle.key} holds no location")
        page, idx = self.obj_to_location(obj)
        zspage = yield from self.get_zspage(page)
        _, _, spans = zspage.cls.geometry.location(idx)
        area = self.pool.map_area[self.cpu]
        if spans:
            nxt = yield from self.get_next_zpdesc(page)
            if nxt is None:
                raise Bug(f"zs_unmap_object: BUG_ON(!zpdescs[1]) for {page.name}")
            yield from self._zs_unmap_object(area, (page, nxt), idx)
        cls = zspage.cls
        yield cls.lock.acquire()
        yield cls.obj.access()
        yield cls.lock.release()
        yield from self.local_unlock()
        for o in reversed(self.mapped.pop(handle.key, ())):
            yield o.unpin()
        yield from self.zspage_read_unlock(zspage)
