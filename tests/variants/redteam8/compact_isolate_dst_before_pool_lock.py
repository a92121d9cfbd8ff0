"""__zs_compact: pick the destination before waiting for pool->lock ("isolate_dst_zspage
only needs class->lock; do it before the expensive write lock, and skip the class at once
if there is no destination")::

    +   spin_lock(&class->lock);
    +   dst_zspage = isolate_dst_zspage(class);
    +   spin_unlock(&class->lock);
    +   if (!dst_zspage)
    +           return 0;
        write_lock(&pool->lock);
        spin_lock(&class->lock);
        while (zs_can_compact(class)) {
                if (!dst_zspage) {
                ...

Verdict from the protocol before running zsmc: a REAL BUG, hazard 22 ("Releasing
class->lock while zspages are isolated": "zs_free/zs_malloc of objects in them are excluded
only because class->lock is continuously held until they are put back").  Between the two
class->lock sections dst is off every list with class->lock free: a zs_free of an object in
dst (its other user's handle) runs fix_fullness_group on the off-list zspage (it is moved to
the 0% list behind compaction's back, the stats count it twice, and an emptied dst is even
freed by free_zspage while compaction still holds it as its destination: pool-consistency
or a use after free).  Needs a free of an object of the *destination* zspage while
compaction runs.  Upstream.
"""
from checker import cond_resched, label
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_INUSE_RATIO_100


class CompactIsolateDstBeforePoolLock(Upstream):
    def _zs_compact(self, cls):
        pool = self.pool
        src = None
        freed = 0
        yield cls.lock.acquire()
        dst = yield from self.isolate_dst_zspage(cls)
        yield cls.lock.release()
        if dst is None:
            return 0
        yield pool.lock.acquire()
        yield cls.lock.acquire()
        yield label("__zs_compact")
        while (yield from self.zs_can_compact(cls)):
            if dst is None:
                dst = yield from self.isolate_dst_zspage(cls)
                if dst is None:
                    break
            src = yield from self.isolate_src_zspage(cls)
            if src is None:
                break
            if not (yield from self.zspage_write_trylock(src)):
                break
            yield from self.migrate_zspage(src, dst)
            yield from self.zspage_write_unlock(src)
            fg = yield from self.putback_zspage(cls, src)
            if fg == ZS_INUSE_RATIO_0:
                yield from self.free_zspage(cls, src)
                freed += cls.pages_per_zspage
            src = None
            yield dst.obj.access(marked=False)
            if (self.get_fullness_group(cls, dst) == ZS_INUSE_RATIO_100
                    or self.rwlock_is_contended(pool.lock)):
                yield from self.putback_zspage(cls, dst)
                dst = None
                yield cls.lock.release()
                yield pool.lock.release()
                yield cond_resched()
                yield pool.lock.acquire()
                yield cls.lock.acquire()
        if src is not None:
            yield from self.putback_zspage(cls, src)
        if dst is not None:
            yield from self.putback_zspage(cls, dst)
        yield cls.lock.release()
        yield pool.lock.release()
        return freed
