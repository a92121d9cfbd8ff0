"""zs_free pushes the object on its zspage's free list before it takes class->lock ("pool->lock
(R) already keeps the zspage from migrating, and obj_free only touches this zspage")::

    read_lock(&pool->lock);
    obj = handle_to_obj(handle);
    obj_to_zpdesc(obj, &f_zpdesc);
    zspage = get_zspage(f_zpdesc);
    class = zspage_class(pool, zspage);
    obj_free(class->size, obj);             /* moved up: set_freeobj, inuse-- */
    spin_lock(&class->lock);
    read_unlock(&pool->lock);
    class_stat_sub(class, ZS_OBJS_INUSE, 1);
    fullness = fix_fullness_group(class, zspage);
    ...

``pool->lock`` (R) excludes migration and compaction, not ``zs_malloc`` (which takes only
``class->lock``, §2.1) nor another ``zs_free`` (also R): ``obj_malloc`` on the same zspage
reads ``freeobj`` and writes ``freeobj``/``inuse`` under ``class->lock`` while this
``set_freeobj``/``inuse--`` runs unlocked, a plain read-modify-write of the same fields
(§1 a: "class->lock protects the zspage's inuse, freeobj and the fullness lists").  A lost
update of ``freeobj`` leaks or double-allocates an object.  Verdict: a real bug (a data
race KCSAN reports).
"""
from checker import Bug, label
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_OBJS_INUSE


class FreeObjFreeBeforeClassLock(Upstream):
    def zs_free(self, handle):
        pool = self.pool
        yield pool.lock.acquire(shared=True)
        yield label("zs_free")
        obj = yield from self.handle_to_obj(handle)
        if not obj:
            raise Bug(f"zs_free: handle {handle.key} holds no location")
        zspage = yield from self.get_zspage(self.obj_to_zpdesc(obj))
        cls = zspage.cls
        yield from self.obj_free(cls, obj)
        yield cls.lock.acquire()
        yield pool.lock.release()
        yield from self.class_stat_sub(cls, ZS_OBJS_INUSE, 1)
        fullness = yield from self.fix_fullness_group(cls, zspage)
        if fullness == ZS_INUSE_RATIO_0:
            yield from self.free_zspage(cls, zspage)
        yield cls.lock.release()
        yield from self.cache_free_handle(handle)
