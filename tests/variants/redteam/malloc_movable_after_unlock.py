"""zs_malloc slow path: SetZsPageMovable after spin_unlock(&class->lock) ("it only touches
the new zspage's own pages").  The zspage is already on a fullness list, so zs_malloc/zs_free
of other tasks can reach it, and once a page is marked the migration scanner can take it: while
SetZsPageMovable walks to the next page, migration replaces and resets the page it just left, so
the walk stops early (or, in the kernel, follows a freed page's stale next) (§2.1 step 7).

Was a scenario gap: no default scenario aimed migration at the pages of a zspage being
created.  Scenario malloc-migrate does (its migration targets a free frame that alloc_zspage
takes first), and the migration core tests movable before its trylock as the kernel's
isolate_movable_page does (a declared read the search orders against SetZsPageMovable): found
at the end of the execution (page frame1 never movable), on one CPU and on two."""
from checker import label
from model import Upstream
from model.pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE


class MallocMovableAfterUnlock(Upstream):
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
        yield from self.obj_malloc(zspage, handle)
        newfg = self.get_fullness_group(cls, zspage)
        yield from self.insert_zspage(cls, zspage, newfg)
        self.pool.pages_allocated += cls.pages_per_zspage
        yield from self.class_stat_add(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
        cls.ghost_zspages.append(zspage)
        yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
        yield cls.lock.release()
        yield from self.SetZsPageMovable(zspage)
        return handle
