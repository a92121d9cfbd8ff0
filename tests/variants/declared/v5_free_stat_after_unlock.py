"""zs_free reports the class's remaining objects to a tracepoint after dropping class->lock
("keep the lock hold short; the tracepoint is only informative")::

    spin_unlock(&class->lock);
    trace_zs_free(class->index, zs_stat_get(class, ZS_OBJS_INUSE));   /* new */
    cache_free_handle(handle);

The stat is ``class->lock``'s (§1 a, ``class_stat_sub``); read after the unlock it is a
plain load racing with the next locked update by ``zs_malloc``, another ``zs_free`` or
compaction.  Verdict: a data race KCSAN reports, benign in effect (a stale trace value).
"""
from checker import Bug, label
from model import V5
from model.pool import ZS_INUSE_RATIO_0, ZS_OBJS_INUSE


class V5FreeStatAfterUnlock(V5):
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
        if fullness == ZS_INUSE_RATIO_0:
            yield from self.free_zspage(cls, zspage)
        yield cls.lock.release()
        yield cls.obj.access(marked=False)
        yield label(f"trace_zs_free {cls.index} {cls.stats[ZS_OBJS_INUSE]}")
        yield from self.cache_free_handle(handle)
