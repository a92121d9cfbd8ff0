"""v5 (section 1b): zs_malloc scrubs a new zspage through this CPU's mapping area before
publishing it ("no stale bytes in a fresh object"), read-locking the zspage inside the
area as zs_map_object does the other way round::

       spin_lock(&class->lock);
       local_lock(&zs_map_area.lock);
       zspage_read_lock(zspage);           /* rwsem_acquire_read: non-recursive */
       ... clear the objects through area->vm_buf ...
       zspage_read_unlock(zspage);
       local_unlock(&zs_map_area.lock);
       obj_malloc(...); insert_zspage(...); ...

zs_map_object takes the zspage read lock, then local_lock (section 2.3 a): lockdep has
zspage->lock -(SN)-> zs_map_area.lock; the patch adds zs_map_area.lock -(EN)->
zspage->lock, a strong cycle (local_lock's dep_map is acquired on !PREEMPT_RT too,
include/linux/local_lock_internal.h).  A real deadlock needs a writer between the two
readers, which v5 writers never are (they only trylock), but lockdep does not know that
and reports it on the first boot that maps an object and allocates a zspage.  No default
scenario runs both: the map API runs in clients, read-migrate, up-clients and
up-read-migrate; zs_malloc's new-zspage path in malloc-free and malloc-migrate, which
use the obj API.  Verdict: a lockdep report, found only by a graph across scenarios.
"""
from checker import label
from model import V5
from model.pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE


class MallocScrubThroughArea(V5):
    def zs_malloc(self, size, key):
        handle = yield from self.cache_alloc_handle(key)
        cls = self.pool.class_for(size)
        yield cls.lock.acquire()
        yield label("zs_malloc")
        zspage = yield from self.find_get_zspage(cls)
        if zspage is not None:
            yield from self.obj_malloc(zspage, handle)
            yield from self.fix_fullness_group(cls, zspage)
            yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
            yield cls.lock.release()
            return handle
        yield cls.lock.release()

        zspage = yield from self.alloc_zspage(cls)
        yield cls.lock.acquire()
        yield from self.local_lock()
        yield from self.zspage_read_lock(zspage)
        area = self.pool.map_area[self.cpu]
        yield area.vm_buf.write(None)
        yield from self.zspage_read_unlock(zspage)
        yield from self.local_unlock()
        yield from self.obj_malloc(zspage, handle)
        newfg = self.get_fullness_group(cls, zspage)
        yield from self.insert_zspage(cls, zspage, newfg)
        self.pool.pages_allocated += cls.pages_per_zspage
        yield from self.class_stat_add(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
        cls.ghost_zspages.append(zspage)
        yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
        yield from self.SetZsPageMovable(zspage)
        yield cls.lock.release()
        return handle
