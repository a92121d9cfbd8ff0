"""Two patches to the v5 series (section 1b), each lockdep-clean in the scenarios that run it:

1. zs_object_copy copies through this CPU's mapping area ("reuse the per-CPU bounce buffer
   instead of two kmap_local pages"), under class->lock as compaction holds it::

       local_lock(&zs_map_area.lock);      /* inside __zs_compact: class->lock held */
       ... copy the object through area->vm_buf ...
       local_unlock(&zs_map_area.lock);

2. zs_unmap_object accounts the access in the class before dropping the area::

       spin_lock(&class->lock);            /* zs_map_area.lock held */
       ... class stat ...
       spin_unlock(&class->lock);
       local_unlock(&zs_map_area.lock);

Lockdep: local_lock() is preempt_disable() plus local_lock_acquire() of the lock's
dep_map on !PREEMPT_RT (include/linux/local_lock_internal.h), one class for every CPU's
lock: (1) adds class->lock -> zs_map_area.lock, (2) zs_map_area.lock -> class->lock.  On
!PREEMPT_RT no two tasks of one CPU can interleave inside local_lock (it disables
preemption), so the inversion is a lockdep report, not a deadlock; but lockdep is right
to make it, since on PREEMPT_RT local_lock_t is a per-CPU sleeping lock.  There (1) is
already a bug of its own: v5's zspage writer holds the lock with preemption disabled
(section 1b, rule 2), so the sleeping local_lock inside the copy is "sleeping function
called from invalid context" (sleep-in-atomic, in up-read-compact).  No default scenario
runs both halves: compaction runs in the *-compact scenarios, the map API in clients,
read-migrate, up-clients and up-read-migrate.  Verdict: a lockdep report on !RT, found
only by a graph across scenarios; a sleep in atomic context on RT.
"""
from checker import Bug, label
from model import V5


class CompactCopyLocalLock(V5):
    def zs_object_copy(self, cls, dst_obj, src_obj):
        yield from self.local_lock()
        yield from super().zs_object_copy(cls, dst_obj, src_obj)
        yield from self.local_unlock()

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
