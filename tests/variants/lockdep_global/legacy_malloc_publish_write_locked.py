"""zs_malloc publishes a new zspage write-locked ("keep migration and compaction off a
zspage until its first object is recorded"), taking class->lock under the zspage lock::

       zspage = alloc_zspage(pool, class, gfp);
       migrate_write_lock(zspage);             /* write_lock(&zspage->lock) */
       spin_lock(&class->lock);
       obj_malloc(...); insert_zspage(...); ... SetZsPageMovable(pool, zspage);
       spin_unlock(&class->lock);
       migrate_write_unlock(zspage);

Legacy (a), section 1a: __zs_compact takes migrate_write_lock(src) -- a blocking
write_lock -- while holding class->lock, so lockdep has class->lock -> zspage->lock from
compaction and the patch adds zspage->lock -> class->lock: "possible circular locking
dependency".  No real deadlock (the new zspage is unreachable until inserted, so no other
task can hold its lock), but lockdep reasons about classes, not instances, and reports it
on the first boot that compacts and allocates a zspage; the fix would be a nested
annotation (write_lock_nested, see legacy_malloc_publish_write_locked_nested.py).
zs_page_migrate also takes migrate_write_lock under class->lock, so malloc-migrate runs
both halves and the inversion was found before (a control for the split: the pair
malloc-free + up-read-compact needs the graph across scenarios).  Verdict: a lockdep
report.
"""
from checker import label
from model import Legacy
from model.pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE


class MallocPublishWriteLocked(Legacy):
    NESTED = 0

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
        yield zspage.zl.acquire(nested=self.NESTED)
        yield cls.lock.acquire()
        yield from self.obj_malloc(zspage, handle)
        newfg = self.get_fullness_group(cls, zspage)
        yield from self.insert_zspage(cls, zspage, newfg)
        self.pool.pages_allocated += cls.pages_per_zspage
        yield from self.class_stat_add(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
        cls.ghost_zspages.append(zspage)
        yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
        yield from self.SetZsPageMovable(zspage)
        yield cls.lock.release()
        yield zspage.zl.release()
        return handle
