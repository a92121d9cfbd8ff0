"""__zs_compact: zs_can_compact() evaluated once before the loop and counted down per freed
source ("the estimate does not change while we hold the locks") -- except across the resched
block, where zs_free and zs_malloc change the stats.  The loop may then try once more than
useful, but isolate_src/dst_zspage return NULL and break when nothing is left: an estimate,
not a protocol step.  Not a bug (§2.4 step 2: zs_can_compact is an estimate)."""
from checker import cond_resched, label
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_INUSE_RATIO_100


class CompactCanCompactOnce(Upstream):
    def _zs_compact(self, cls):
        pool = self.pool
        src = dst = None
        freed = 0
        yield pool.lock.acquire()
        yield cls.lock.acquire()
        yield label("__zs_compact")
        budget = yield from self.zs_can_compact(cls)
        while budget > 0:
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
                budget -= cls.pages_per_zspage
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
