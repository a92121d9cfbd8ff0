"""__zs_compact: after the cond_resched, take the class lock first ("we only need the pool
lock for the next migrate_zspage; grab the cheap lock first")::

                        cond_resched();
    -                   write_lock(&pool->lock);
    -                   spin_lock(&class->lock);
    +                   spin_lock(&class->lock);
    +                   write_lock(&pool->lock);

Verdict from the protocol before running zsmc: a REAL BUG.  The documented order is
pool->lock -> class->lock (§3), and zs_free takes them in that order hand over hand (§2.2
steps 2-4): zs_free holds pool->lock (R) and spins on class->lock while compaction holds
class->lock and waits for pool->lock (W), which the reader side holds: an ABBA deadlock on
two CPUs (lockdep reports the inversion whether or not it deadlocks).  Upstream, read-compact
(the client's free against compaction's second acquisition): deadlock or lock-order.
"""
from checker import cond_resched, label
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_INUSE_RATIO_100


class CompactRelockClassFirst(Upstream):
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
                yield cls.lock.acquire()
                yield pool.lock.acquire()
        if src is not None:
            yield from self.putback_zspage(cls, src)
        if dst is not None:
            yield from self.putback_zspage(cls, dst)
        yield cls.lock.release()
        yield pool.lock.release()
        return freed
