"""__zs_compact (5.x) puts the last source and destination back after dropping class->lock
("pool->migrate_lock (W) is still held, so no zs_free and no migration can run")::

    if (src)
        ...
    spin_unlock(&class->lock);
    if (src)
        putback_zspage(class, src);         /* moved out: insert_zspage */
    if (dst)
        putback_zspage(class, dst);
    write_unlock(&pool->migrate_lock);

``pool->migrate_lock`` (W) excludes ``zs_free`` and migration, but not the users of
``class->lock`` alone: ``zs_malloc`` (§2.1) and the deferred-free worker
(``async_free_zspage`` splices the 0% list under ``class->lock``, §2.6).  ``putback_zspage``
is ``insert_zspage``: a ``list_add`` on ``class->fullness_list`` and the zspage's
``fullness``, a plain read-modify-write of the list the worker splices.  Verdict: a real bug
(a data race KCSAN reports).
"""
from checker import cond_resched, label
from model import Legacy
from model.pool import ZS_INUSE_RATIO_0, ZS_INUSE_RATIO_100


class LegacyCompactPutbackAfterClassUnlock(Legacy):
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
        yield cls.lock.release()
        if src is not None:
            yield from self.putback_zspage(cls, src)
        if dst is not None:
            yield from self.putback_zspage(cls, dst)
        yield pool.lock.release()
        return freed
