"""zs_free: return early when the zspage did not become empty ("the common case needs neither
free_zspage nor the tail of the function"):

    fullness = fix_fullness_group(class, zspage);
    if (fullness != ZS_INUSE_RATIO_0) {
            spin_unlock(&class->lock);
            return;
    }
    free_zspage(pool, class, zspage);
    spin_unlock(&class->lock);
    cache_free_handle(pool, handle);

Decided before running zsmc: a REAL BUG.  §2.2 step 8: "Unlock class; free the handle to its
kmem_cache."  The early return skips cache_free_handle: every zs_free that leaves its zspage
non-empty leaks the handle's slab object (kmemleak reports it; the handle cache grows
without bound under zram).  No lock or state of the pool is wrong: only a lifetime.
"""
from checker import Bug, label
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_OBJS_INUSE


class FreeEarlyReturnLeaksHandle(Upstream):
    def zs_free(self, handle):
        pool = self.pool
        yield pool.lock.acquire(shared=True)
        yield label("zs_free")
        obj = yield from self.handle_to_obj(handle)
        if not obj:
            raise Bug(f"zs_free: handle {handle.key} holds no location")
        zspage = yield from self.get_zspage(self.obj_to_zpdesc(obj))
        cls = zspage.cls
        yield cls.lock.acquire()
        yield pool.lock.release()
        yield from self.class_stat_sub(cls, ZS_OBJS_INUSE, 1)
        yield from self.obj_free(cls, obj)
        fullness = yield from self.fix_fullness_group(cls, zspage)
        if fullness != ZS_INUSE_RATIO_0:
            yield cls.lock.release()
            return
        yield from self.free_zspage(cls, zspage)
        yield cls.lock.release()
        yield from self.cache_free_handle(handle)
