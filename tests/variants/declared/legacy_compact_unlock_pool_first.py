"""__zs_compact (5.x) drops pool->migrate_lock before class->lock at the end ("LIFO is not
required for spinning locks")::

    if (dst)
        putback_zspage(class, dst);
    write_unlock(&pool->migrate_lock);      /* swapped */
    spin_unlock(&class->lock);

The putbacks still run under both locks; only the order of the two releases changes, and
releasing never waits, so no lock-order cycle can form (§3: the order rules are about
acquisitions).  A ``zs_free`` that gets the pool lock (R) then spins on ``class->lock`` for
a moment.  Verdict: not a bug.
"""
from checker import cond_resched, label
from model import Legacy
from model.pool import ZS_INUSE_RATIO_0, ZS_INUSE_RATIO_100


class LegacyCompactUnlockPoolFirst(Legacy):
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
            yield from self.migrate_write_lock(src)
            yield from self.migrate_zspage(src, dst)
            yield from self.migrate_write_unlock(src)
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
        yield pool.lock.release()
        yield cls.lock.release()
        return freed
