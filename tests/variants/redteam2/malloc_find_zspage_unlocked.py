"""zs_malloc: find_get_zspage() called before spin_lock(&class->lock) ("look for a zspage
without the lock, lock only to allocate in it").  The zspage found may be spliced and
freed by the deferred-free worker, filled by another zs_malloc or isolated by compaction
before the lock is taken; obj_malloc then allocates in it anyway.  A real bug: a check
moved outside its lock (§2.1 step 4, I5)."""
from checker import label
from model import Upstream
from model.pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE


class MallocFindZspageUnlocked(Upstream):
    def zs_malloc(self, size, key):
        handle = yield from self.cache_alloc_handle(key)
        cls = self.pool.class_for(size)
        zspage = yield from self.find_get_zspage(cls)
        yield cls.lock.acquire()
        yield label("zs_malloc")
        if zspage is not None:
            yield from self.obj_malloc(zspage, handle)
            yield from self.fix_fullness_group(cls, zspage)
            yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
            yield cls.lock.release()
            return handle
        yield cls.lock.release()

        zspage = yield from self.alloc_zspage(cls)
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
        return handle
