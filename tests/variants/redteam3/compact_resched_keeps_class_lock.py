"""__zs_compact: the resched block drops only pool->lock ("pool->lock is the contended one,
keep the class"), calls cond_resched() with class->lock held and re-takes pool->lock W under
class->lock.  cond_resched under a spinlock is sleep-in-atomic, and W(pool) inside
S(class) inverts the documented order against zs_free (R(pool) -> S(class)): ABBA.  A real
bug: §2.4 h ("only sleep/preemption point, no locks, nothing isolated"), §3 lock order,
hazard 22."""
from checker import cond_resched, label
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_INUSE_RATIO_100


class CompactReschedKeepsClassLock(Upstream):
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
            yield dst.obj.access()
            if (self.get_fullness_group(cls, dst) == ZS_INUSE_RATIO_100
                    or self.rwlock_is_contended(pool.lock)):
                yield from self.putback_zspage(cls, dst)
                dst = None
                yield pool.lock.release()
                yield cond_resched()
                yield pool.lock.acquire()
        if src is not None:
            yield from self.putback_zspage(cls, src)
        if dst is not None:
            yield from self.putback_zspage(cls, dst)
        yield cls.lock.release()
        yield pool.lock.release()
        return freed
