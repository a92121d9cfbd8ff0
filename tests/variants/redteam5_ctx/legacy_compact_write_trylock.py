"""Backport of the trylock writer to 6.11-6.14 (a) __zs_compact: ``migrate_write_lock(src)``
becomes ``if (!write_trylock(&src->lock)) break;`` ("don't spin for mappers").

Compaction handles the failure exactly as (b)/(c) do (§2.4 c: src stays isolated and is put
back after the loop); a trylock on the rwlock never waits; writers remain atomic (pool W,
class lock, the rwlock).  Verdict: not a bug.
"""
from checker import cond_resched, label
from model import Legacy
from model.pool import ZS_INUSE_RATIO_0, ZS_INUSE_RATIO_100


class LegacyCompactWriteTrylock(Legacy):
    def _zs_compact(self, cls):
        pool = self.pool
        src = dst = None
        freed = 0
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
            if not (yield src.zl.try_acquire()):
                break
            yield from self.migrate_zspage(src, dst)
            yield from self.migrate_write_unlock(src)
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
