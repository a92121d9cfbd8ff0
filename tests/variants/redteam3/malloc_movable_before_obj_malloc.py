"""zs_malloc: SetZsPageMovable moved to right after re-taking class->lock, before obj_malloc
and insert_zspage ("make the pages movable as soon as the chain is complete").  The chain is
complete; a migration that isolates a page now needs pool->lock (W) and class->lock before it
can touch the zspage, and class->lock is held until the zspage is consistent: not a bug
(§2.1 step 7, §2.5 steps 2-3; unlike tests/variants/movable/movable_before_chain)."""
from model import Upstream
from model.pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE


class MallocMovableBeforeObjMalloc(Upstream):
    def zs_malloc(self, size, key):
        handle = yield from self.cache_alloc_handle(key)
        cls = self.pool.class_for(size)
        yield cls.lock.acquire()
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
        yield from self.SetZsPageMovable(zspage)
        yield from self.obj_malloc(zspage, handle)
        newfg = self.get_fullness_group(cls, zspage)
        yield from self.insert_zspage(cls, zspage, newfg)
        self.pool.pages_allocated += cls.pages_per_zspage
        yield from self.class_stat_add(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
        cls.ghost_zspages.append(zspage)
        yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
        yield cls.lock.release()
        return handle
