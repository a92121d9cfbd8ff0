"""zs_malloc: cache_alloc_handle() moved after spin_lock(&class->lock) ("don't allocate a
handle until we know the class"), with the caller's gfp that allows sleeping (zram's
GFP_NOIO | __GFP_HIGHMEM | __GFP_MOVABLE may sleep).  A real bug: sleeping allocation in
atomic context (§2.1: "preemption/sleep points: steps 2 and 6 only", outside every lock)."""
from checker import label
from model import Upstream
from model.pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE


class MallocHandleUnderClassLock(Upstream):
    def zs_malloc(self, size, key):
        cls = self.pool.class_for(size)
        yield cls.lock.acquire()
        yield label("zs_malloc")
        handle = yield from self.cache_alloc_handle(key)
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
