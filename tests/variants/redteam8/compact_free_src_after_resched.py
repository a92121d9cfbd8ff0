"""__zs_compact: free an emptied source after the resched block ("don't trylock the pages
of src while the destination's put-back and the lock drop are pending; free it once we
have the locks again")::

                fg = putback_zspage(class, src_zspage);
    -           if (fg == ZS_INUSE_RATIO_0) {
    -                   free_zspage(pool, class, src_zspage);
    -                   pages_freed += class->pages_per_zspage;
    -           }
    +           if (fg == ZS_INUSE_RATIO_0)
    +                   empty = src_zspage;
                src_zspage = NULL;

                if (get_fullness_group(class, dst_zspage) == ZS_INUSE_RATIO_100
                    || rwlock_is_contended(&pool->lock)) {
                        ...
                        cond_resched();
                        write_lock(&pool->lock);
                        spin_lock(&class->lock);
                }
    +           if (empty) {
    +                   free_zspage(pool, class, empty);
    +                   pages_freed += class->pages_per_zspage;
    +                   empty = NULL;
    +           }

Verdict from the protocol before running zsmc: a REAL BUG.  putback_zspage puts the empty
source on the 0% list (§2.4 f); across the resched block class->lock is dropped (§2.4 h),
and an empty zspage on the 0% list is fair game: zs_malloc reuses it (§2.1 step 4 scans
down to 0% inclusive) and the free worker splices and frees it (§2.6 step 1).  Compaction
then frees a zspage holding an object (VM_BUG_ON(inuse)) or one the worker freed (use after
free).  Upstream: read-compact (a malloc in the gap), compact-worker (the worker).
"""
from checker import cond_resched, label
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_INUSE_RATIO_100


class CompactFreeSrcAfterResched(Upstream):
    def _zs_compact(self, cls):
        pool = self.pool
        src = dst = empty = None
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
                empty = src
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
            if empty is not None:
                yield from self.free_zspage(cls, empty)
                freed += cls.pages_per_zspage
                empty = None
        if src is not None:
            yield from self.putback_zspage(cls, src)
        if dst is not None:
            yield from self.putback_zspage(cls, dst)
        yield cls.lock.release()
        yield pool.lock.release()
        return freed
