"""legacy_malloc_publish_write_locked.py with the nested annotation lockdep asks for::

       zspage = alloc_zspage(pool, class, gfp);
       write_lock_nested(&zspage->lock, SINGLE_DEPTH_NESTING);
       spin_lock(&class->lock);
       ...
       spin_unlock(&class->lock);
       write_unlock(&zspage->lock);

``write_lock_nested`` (include/linux/rwlock.h, added for zsmalloc's compaction) gives the
acquisition subclass 1: lockdep's class zspage->lock/1, a node of its own.  The patch adds
zspage->lock/1 -> class->lock, compaction has class->lock -> zspage->lock (subclass 0): no
cycle.  Correct, since the only zspage locked so is one no other task can reach yet.
Verdict: lockdep-legal, not a bug: zsmc must stay silent.
"""
from checker import label
from model import Legacy
from model.pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE


class MallocPublishWriteLockedNested(Legacy):
    NESTED = 1      # SINGLE_DEPTH_NESTING

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
