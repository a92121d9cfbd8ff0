"""zs_malloc: the found path drops fix_fullness_group ("obj_malloc only fills a slot, the
zspage will be re-filed at the next zs_free").  A zspage that becomes full stays on its 50%
list: the next zs_malloc picks it again and pops from an empty free list, and compaction
isolates a full zspage as dst.  A real bug: §2.1 step 5 (fix_fullness_group), I5."""
from model import Upstream
from model.pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE


class MallocFoundSkipsFixFullness(Upstream):
    def zs_malloc(self, size, key):
        handle = yield from self.cache_alloc_handle(key)
        cls = self.pool.class_for(size)
        yield cls.lock.acquire()
        zspage = yield from self.find_get_zspage(cls)
        if zspage is not None:
            yield from self.obj_malloc(zspage, handle)
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
