"""__zs_compact: "on PREEMPT_RT pool->lock and class->lock are sleeping locks, so give the
CPU away after each source zspage without dropping them"::

    if (IS_ENABLED(CONFIG_PREEMPT_RT))
            cond_resched();        /* after putback of src, pool->lock (W) + class->lock held */

!PREEMPT_RT: the branch is compiled out: no change.  PREEMPT_RT: spinlock_t and rwlock_t
become rtmutex-based locks, but "sleeping lock types cannot nest inside spinning lock
types" still holds (locktypes.rst): the holder runs under rcu_read_lock/migrate_disable and
__might_resched() reports "sleeping function called from invalid context"; and the class
stays locked, with src/dst isolated, across the voluntary sleep (§2.4 h: cond_resched only
with nothing held; hazard 22).  Verdict: not a bug on !RT, a real bug on RT.
"""
from checker import cond_resched, label
from checker.config import preempt_rt
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_INUSE_RATIO_100


class CompactRtReschedUnderLocks(Upstream):
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
            if preempt_rt():
                yield cond_resched()
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
