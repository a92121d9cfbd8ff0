"""zs_malloc (legacy): the handle's allocation failure returns 0, "no handle", in place of
an error pointer:

    handle = cache_alloc_handle(pool, gfp);
    if (!handle)
            return 0;                       /* was: (unsigned long)ERR_PTR(-ENOMEM) */

Decided before running zsmc: a REAL BUG.  zs_malloc's contract is an ERR_PTR on failure:
zram tests IS_ERR_VALUE(handle), which 0 is not, and goes on to map and write through
handle 0 (a NULL dereference).  Found by malloc-nomem (bug: zs_malloc returned neither a
handle nor an error code).
"""
from checker import label
from model import Legacy
from model.pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE

ENOMEM = 12


class LegacyMallocNomemReturnsZero(Legacy):
    def zs_malloc(self, size, key):
        handle = yield from self.cache_alloc_handle(key)
        if handle is None:
            return 0
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
            yield from self.cache_free_handle(handle)
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
