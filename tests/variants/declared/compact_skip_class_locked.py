"""zs_compact skips a class with nothing to compact, asking under class->lock (the correct
twin of compact_skip_class_unlocked)::

    spin_lock(&class->lock);
    skip = !zs_can_compact(class);
    spin_unlock(&class->lock);
    if (skip)
        continue;
    pages_freed += __zs_compact(pool, class);

The stats are read under the lock their writers hold (§1 a); the answer may be stale by the
time ``__zs_compact`` runs, which asks again under its locks.  Verdict: not a bug.
"""
from model import Upstream


class CompactSkipClassLocked(Upstream):
    def zs_compact(self):
        pool = self.pool
        busy = yield pool.compaction_in_progress.rmw(lambda v: 1)
        if busy:
            return 0
        freed = 0
        for cls in reversed(pool.size_class):
            yield cls.lock.acquire()
            skip = not (yield from self.zs_can_compact(cls))
            yield cls.lock.release()
            if skip:
                continue
            freed += yield from self._zs_compact(cls)
        yield pool.compaction_in_progress.write(0)
        return freed
