"""zs_free keeps pool->lock (R) a little longer: it drops it after obj_free instead of right
after taking class->lock ("shorter hand-over-hand window")::

    spin_lock(&class->lock);
    class_stat_sub(class, ZS_OBJS_INUSE, 1);
    obj_free(class->size, obj);
    read_unlock(&pool->lock);               /* moved down */
    fullness = fix_fullness_group(class, zspage);

Every access ``obj_free`` makes is still under ``class->lock``; holding the pool lock (R)
longer only delays a migration or compaction waiting for W (§2.2, §3: pool -> class is the
lock order, and both are spinning locks, so nothing sleeps under them).  Verdict: not a bug.
"""
from checker import Bug, label
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_OBJS_INUSE


class FreePoolUnlockAfterObjFree(Upstream):
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
        yield from self.class_stat_sub(cls, ZS_OBJS_INUSE, 1)
        yield from self.obj_free(cls, obj)
        yield pool.lock.release()
        fullness = yield from self.fix_fullness_group(cls, zspage)
        if fullness == ZS_INUSE_RATIO_0:
            yield from self.free_zspage(cls, zspage)
        yield cls.lock.release()
        yield from self.cache_free_handle(handle)
