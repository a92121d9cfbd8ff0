"""zs_malloc: on the new-zspage path obj_malloc runs before re-taking class->lock ("the new
zspage is still private"); insert_zspage, the stats and SetZsPageMovable stay under it.
obj_malloc touches only the new zspage, its pages and the caller's handle, none of which
anybody else can reach before insert_zspage (the pages are not movable yet): not a bug
(§2.1 steps 6-7: "the handle is not yet published to anybody")."""
from model import Upstream
from model.pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE


class MallocObjMallocBeforeRelock(Upstream):
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
        yield from self.obj_malloc(zspage, handle)
        yield cls.lock.acquire()
        newfg = self.get_fullness_group(cls, zspage)
        yield from self.insert_zspage(cls, zspage, newfg)
        self.pool.pages_allocated += cls.pages_per_zspage
        yield from self.class_stat_add(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
        cls.ghost_zspages.append(zspage)
        yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
        yield from self.SetZsPageMovable(zspage)
        yield cls.lock.release()
        return handle
