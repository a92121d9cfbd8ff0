"""legacy __zs_compact write-locks dst and then src with two plain migrate_write_lock()
calls, without the _nested annotation 5.17-6.8 used.  The locking itself is safe (see
legacy_compact_locks_dst_nested), but lockdep sees a second zspage->lock taken while one of
the same class is held and reports "possible recursive locking detected": a real bug in the
annotations that makes every lockdep kernel splat on the first compaction (§2.4 (a),
Chengming's 2024 "remove migrate_write_lock_nested()" history)."""
from checker import cond_resched, label
from model import Legacy
from model.pool import ZS_INUSE_RATIO_0, ZS_INUSE_RATIO_100


class LegacyCompactLocksDstUnannotated(Legacy):
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
            yield from self.migrate_write_lock(dst)
            yield from self.migrate_write_lock(src)
            yield from self.migrate_zspage(src, dst)
            yield from self.migrate_write_unlock(src)
            yield from self.migrate_write_unlock(dst)
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
