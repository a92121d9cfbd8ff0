"""A debugging aid: zs_free records each freed handle in a pool-wide "recently freed" list
(for a debugfs file), appended after ``spin_unlock(&class->lock)`` "to keep the class lock
hold time short":

    spin_unlock(&class->lock);
    list_add(&rec->node, &pool->recent_frees);      /* no lock */
    cache_free_handle(handle);

The new field lives in ``pool->extra`` (docs/model.md: state a patch adds).  The author
creates it lazily, the Python way: ``lst = extra.get(...)``; if missing store ``[]``; then
``lst.append(...)``.

Verdict decided from the protocol document before running zsmc: REAL BUG.
Two zs_free calls on two CPUs (§2.2: zs_free holds only ``R(pool)`` then ``class->lock``,
both released by then; §3 table: nothing else) do ``list_add`` on the same list head with no
lock: concurrent list_add corrupts the list (lost entries, a cycle), and by KCSAN's rule it is
a data race.  Pool-wide state written by several CPUs needs a lock (§3, Terminology: stats
under class->lock).
"""
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_OBJS_INUSE
from checker import Bug, label


class FreeRecentListLazy(Upstream):
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
        recent = pool.extra.get("recent_frees")
        if recent is None:
            recent = []
            pool.extra["recent_frees"] = recent
        recent.append(handle.key)               # list_add(&rec->node, &pool->recent_frees)
        yield from self.cache_free_handle(handle)
