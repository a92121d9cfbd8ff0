"""zs_malloc fast path: OBJS_INUSE++ moved after spin_unlock(&class->lock) ("the stat is a
counter, it does not need the lock").  Class stats are plain longs under class->lock (§2.1 step 5)."""
from checker import label
from model import Upstream


class MallocStatAfterUnlock(Upstream):
    def zs_malloc(self, size, key):
        handle = yield from self.cache_alloc_handle(key)
        cls = self.pool.class_for(size)
        yield cls.lock.acquire()
        yield label("zs_malloc")
        zspage = yield from self.find_get_zspage(cls)
        if zspage is not None:
            yield from self.obj_malloc(zspage, handle)
            yield from self.fix_fullness_group(cls, zspage)
            yield cls.lock.release()
            yield from self.class_stat_add(cls, 13, 1)      # ZS_OBJS_INUSE, now unlocked
            return handle
        yield cls.lock.release()
        return (yield from self._slow(cls, handle))

    def _slow(self, cls, handle):
        from model.pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE
        zspage = yield from self.alloc_zspage(cls)
        yield cls.lock.acquire()
        yield from self.obj_malloc(zspage, handle)
        newfg = self.get_fullness_group(cls, zspage)
        yield from self.insert_zspage(cls, zspage, newfg)
        self.pool.pages_allocated += cls.pages_per_zspage
        yield from self.class_stat_add(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
        cls.ghost_zspages.append(zspage)
        yield from self.SetZsPageMovable(zspage)
        yield cls.lock.release()
        yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
        return handle
