"""legacy __zs_compact also write-locks dst, with migrate_write_lock_nested (as 5.17-6.8 did,
before Chengming's 2024 "remove migrate_write_lock_nested()").  NOT a bug: both write locks
are taken blocking under migrate_lock (W) and class->lock; mappers are atomic and never
wait for anything compaction holds, and lockdep is told the second zspage->lock is a
nested subclass (SINGLE_DEPTH_NESTING), so no self-deadlock is reported (§2.4 (a): "5.17-6.8
also locked dst")."""
from checker import cond_resched, label
from model import Legacy
from model.pool import ZS_INUSE_RATIO_0, ZS_INUSE_RATIO_100


class LegacyCompactLocksDstNested(Legacy):
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
            yield src.zl.acquire(nested=1)      # migrate_write_lock_nested(src)
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
