"""zs_free: cache_free_handle() moved inside the class lock (before spin_unlock) ("one
exit path").  NOT a bug: kmem_cache_free never sleeps, and the handle belongs to the caller
alone (caller contract, §2.2): no zsmalloc path reads it once its object is freed under
class->lock and pool->lock (R) was dropped (§2.2 step 8)."""
from checker import label
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_OBJS_INUSE


class FreeHandleUnderClassLock(Upstream):
    def zs_free(self, handle):
        pool = self.pool
        yield pool.lock.acquire(shared=True)
        yield label("zs_free")
        obj = yield from self.handle_to_obj(handle)
        zspage = yield from self.get_zspage(self.obj_to_zpdesc(obj))
        cls = zspage.cls
        yield cls.lock.acquire()
        yield pool.lock.release()
        yield from self.class_stat_sub(cls, ZS_OBJS_INUSE, 1)
        yield from self.obj_free(cls, obj)
        fullness = yield from self.fix_fullness_group(cls, zspage)
        if fullness == ZS_INUSE_RATIO_0:
            yield from self.free_zspage(cls, zspage)
        yield from self.cache_free_handle(handle)
        yield cls.lock.release()
