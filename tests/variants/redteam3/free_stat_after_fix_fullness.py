"""zs_free: `class_stat_sub(ZS_OBJS_INUSE)` moved after obj_free and fix_fullness_group /
free_zspage, still before spin_unlock(&class->lock).  Every stat update stays under
class->lock, and nothing reads OBJS_INUSE in between: not a bug (§2.2 steps 6-8, I6 holds
whenever class->lock is free)."""
from checker import Bug, label
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_OBJS_INUSE


class FreeStatAfterFixFullness(Upstream):
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
        yield from self.obj_free(cls, obj)
        fullness = yield from self.fix_fullness_group(cls, zspage)
        if fullness == ZS_INUSE_RATIO_0:
            yield from self.free_zspage(cls, zspage)
        yield from self.class_stat_sub(cls, ZS_OBJS_INUSE, 1)
        yield cls.lock.release()
        yield from self.cache_free_handle(handle)
