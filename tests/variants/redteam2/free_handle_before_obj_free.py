"""zs_free: cache_free_handle() moved up to right after the lookup, while pool->lock (R) is
still held ("we have the obj value, the handle is dead").  NOT a bug: the only other readers
of a handle whose object is live are migration and compaction (handle rewrite), which need
pool->lock (W) and class->lock; zs_free holds pool->lock (R) until it holds class->lock
(hand-over-hand) and marks the object free under class->lock, so no mover reaches the
object's header -- and through it the freed handle -- in between (§2.2 steps 2-8)."""
from checker import label
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_OBJS_INUSE


class FreeHandleBeforeObjFree(Upstream):
    def zs_free(self, handle):
        pool = self.pool
        yield pool.lock.acquire(shared=True)
        yield label("zs_free")
        obj = yield from self.handle_to_obj(handle)
        yield from self.cache_free_handle(handle)
        zspage = yield from self.get_zspage(self.obj_to_zpdesc(obj))
        cls = zspage.cls
        yield cls.lock.acquire()
        yield pool.lock.release()
        yield from self.class_stat_sub(cls, ZS_OBJS_INUSE, 1)
        yield from self.obj_free(cls, obj)
        fullness = yield from self.fix_fullness_group(cls, zspage)
        if fullness == ZS_INUSE_RATIO_0:
            yield from self.free_zspage(cls, zspage)
        yield cls.lock.release()
