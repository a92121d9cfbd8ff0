"""zs_free: `class_stat_sub(class, ZS_OBJS_INUSE, 1)` moved up into the pool->lock (R)
section, before spin_lock(&class->lock) ("the stat only needs the class, which we already
know").  pool->lock R is shared with every other zs_free and excludes neither zs_malloc nor
another zs_free: the class stat is updated without its lock and an update is lost.  A real
bug: a stat outside its lock, §2.2 steps 4-6, I6."""
from checker import Bug, label
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_OBJS_INUSE


class FreeStatBeforeClassLock(Upstream):
    def zs_free(self, handle):
        pool = self.pool
        yield pool.lock.acquire(shared=True)
        yield label("zs_free")
        obj = yield from self.handle_to_obj(handle)
        if not obj:
            raise Bug(f"zs_free: handle {handle.key} holds no location")
        zspage = yield from self.get_zspage(self.obj_to_zpdesc(obj))
        cls = zspage.cls
        yield from self.class_stat_sub(cls, ZS_OBJS_INUSE, 1)
        yield cls.lock.acquire()
        yield pool.lock.release()
        yield from self.obj_free(cls, obj)
        fullness = yield from self.fix_fullness_group(cls, zspage)
        if fullness == ZS_INUSE_RATIO_0:
            yield from self.free_zspage(cls, zspage)
        yield cls.lock.release()
        yield from self.cache_free_handle(handle)
