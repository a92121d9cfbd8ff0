"""zs_compact: report the pool's size before and after compaction (a tracepoint's
arguments, kept in the pool for a debugfs file)::

     unsigned long zs_compact(struct zs_pool *pool)
     {
             ...
             if (atomic_xchg(&pool->compaction_in_progress, 1))
                     return 0;
    +        pages_before = zs_get_total_pages(pool);  /* atomic_long_read(&pool->pages_allocated) */
             for (i = ZS_SIZE_CLASSES - 1; i >= 0; i--) {
                     ...
             }
    +        pool->last_compact.before = pages_before;
    +        pool->last_compact.freed = pages_freed;
             atomic_set(&pool->compaction_in_progress, 0);

Verdict from the protocol before running zsmc: NOT A BUG.  pool->pages_allocated is an
atomic_long_t that zs_malloc and __free_zspage update with atomic_long_add/sub under their
class->lock (§2.1 step 7, §2.2 step 7), no lock of the pool's: reading it is a marked atomic
access whatever else runs, and the value is only reported.  The two stores are made by the
one compactor that won compaction_in_progress (§2.4), ordered against the next one by that
flag's xchg.  A correct twin (a reader of an atomic counter of the pool).
"""
from model import Upstream


def _set_one(v):
    return 1


class CompactTraceTotalPages(Upstream):
    def zs_compact(self):
        pool = self.pool
        busy = yield pool.compaction_in_progress.rmw(_set_one)
        if busy:
            return 0
        yield pool.obj.access(marked=True)      # atomic_long_read
        before = pool.pages_allocated
        freed = 0
        for cls in reversed(pool.size_class):
            freed += yield from self._zs_compact(cls)
        pool.extra["last_compact"] = (before, freed)
        yield pool.compaction_in_progress.write(0)
        return freed
