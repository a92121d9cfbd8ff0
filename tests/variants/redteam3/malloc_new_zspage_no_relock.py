"""zs_malloc: on the new-zspage path the second `spin_lock(&class->lock)` is dropped ("the
zspage is new, nobody can see it"), and with it the unlock.  But insert_zspage puts it
on a class list and updates class stats, and OBJS_ALLOCATED/OBJS_INUSE are shared: all of it now
runs without class->lock, against zs_free, another zs_malloc and compaction.  A real bug:
§2.1 step 7 (S(class) again), I5/I6."""
from model import Upstream
from model.pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE


class MallocNewZspageNoRelock(Upstream):
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
        newfg = self.get_fullness_group(cls, zspage)
        yield from self.insert_zspage(cls, zspage, newfg)
        self.pool.pages_allocated += cls.pages_per_zspage
        yield from self.class_stat_add(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
        cls.ghost_zspages.append(zspage)
        yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
        yield from self.SetZsPageMovable(zspage)
        return handle
