"""zs_malloc (v5): the -ENOMEM path of alloc_zspage frees the handle and then returns it
(a conversion of the error returns to a common exit that returned the wrong variable):

    zspage = alloc_zspage(pool, class, gfp);
    if (!zspage) {
            cache_free_handle(pool, handle);
            return handle;                  /* was: ERR_PTR(-ENOMEM) */
    }

Decided before running zsmc: a REAL BUG.  §2.1 step 6: the caller gets -ENOMEM.  Here it
gets a handle back in the kmem_cache, stores its data through it (zram writes the object
straight after zs_malloc): a use after free of the handle slab.  Found by malloc-nomem
(the client's write of the freed handle).
"""
from checker import label
from model import V5
from model.pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE

ENOMEM = 12


class V5MallocNomemReturnsFreedHandle(V5):
    def zs_malloc(self, size, key):
        handle = yield from self.cache_alloc_handle(key)
        if handle is None:
            return -ENOMEM
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
            return handle
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
