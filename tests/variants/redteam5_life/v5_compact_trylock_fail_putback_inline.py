"""v5 __zs_compact: when the source's write trylock fails, put it back right there and forget
it, instead of leaving it to the putback after the loop ("keep the isolation and its undo
next to each other"):

    if (!zspage_try_write_lock(src_zspage)) {
            putback_zspage(class, src_zspage);
            src_zspage = NULL;
            break;
    }

Decided before running zsmc: NOT A BUG.  §2.4 step c/3: the putback after the loop does
exactly this (insert src into the list of its fullness, under the same class->lock that has
been held since the isolation); the failed trylock took nothing (v5: preempt_enable on
failure), and src = NULL keeps the final putback from inserting it twice.
"""
from checker import cond_resched, label
from model import V5
from model.pool import ZS_INUSE_RATIO_0, ZS_INUSE_RATIO_100


class V5CompactTrylockFailPutbackInline(V5):
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
                yield from self.putback_zspage(cls, src)
                src = None
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
