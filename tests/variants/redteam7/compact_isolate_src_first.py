"""__zs_compact: isolate the source before the destination ("find out whether there is
anything to move before taking a destination off its list")::

    while (zs_can_compact(class)) {
        src_zspage = isolate_src_zspage(class);        /* moved up */
        if (!src_zspage)
            break;
        if (!dst_zspage) {
            dst_zspage = isolate_dst_zspage(class);
            if (!dst_zspage)
                break;
        }
        ...

Verdict from the protocol before running zsmc: NOT A BUG.  Both isolations run under
class->lock with pool->lock (W) held (§2.4 steps 1-2); a zspage isolated as src is off its
list, so isolate_dst cannot return it too; when either is missing the loop breaks and the
code after the loop puts back whatever is still isolated (§2.4 step 3).  Which zspages are
chosen changes (src is now the least-full zspage even when dst is also picked from the
fullest), not the locking.
"""
from checker import cond_resched, label
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_INUSE_RATIO_100


class CompactIsolateSrcFirst(Upstream):
    def _zs_compact(self, cls):
        pool = self.pool
        src = dst = None
        freed = 0
        yield pool.lock.acquire()
        yield cls.lock.acquire()
        yield label("__zs_compact")
        while (yield from self.zs_can_compact(cls)):
            src = yield from self.isolate_src_zspage(cls)
            if src is None:
                break
            if dst is None:
                dst = yield from self.isolate_dst_zspage(cls)
                if dst is None:
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
            yield dst.obj.access()
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
