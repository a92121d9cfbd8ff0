"""zs_malloc: the -ENOMEM path of alloc_zspage returns without freeing the handle (a rework
of the error paths that dropped one line):

    zspage = alloc_zspage(pool, class, gfp, nid);
    if (!zspage)
            return (unsigned long)ERR_PTR(-ENOMEM);       /* cache_free_handle() lost */

Decided before running zsmc: a REAL BUG.  §2.1 step 6: "Failure -> free handle, return
-ENOMEM".  Each failed allocation of a zspage (memory pressure: exactly when zram allocates)
leaks a handle.  The model's alloc_zspage never fails (no scenario injects an allocation
failure), so the changed branch cannot run: zsmc must not call this a pass.
"""
from checker import label
from model import Upstream
from model.pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE

ENOMEM = 12


class MallocEnomemLeaksHandle(Upstream):
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
        if zspage is None:
            return -ENOMEM
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
