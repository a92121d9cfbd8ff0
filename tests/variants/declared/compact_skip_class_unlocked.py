"""zs_compact skips a class with nothing to compact before taking any lock ("why take
pool->lock for writing just to learn there is nothing to do")::

    for (i = ZS_SIZE_CLASSES - 1; i >= 0; i--) {
        class = pool->size_class[i];
        if (class->index != i)
            continue;
        if (!zs_can_compact(class))         /* new: outside pool->lock and class->lock */
            continue;
        pages_freed += __zs_compact(pool, class);
    }

``zs_can_compact`` reads ``class->stats`` (``zs_stat_get``, a plain load) that
``zs_malloc``, ``zs_free`` and the deferred-free worker update under ``class->lock``
(``class_stat_add``/``sub``: §1 a, the stats are class->lock's).  The answer is only a
heuristic (``__zs_compact`` asks again under the locks), so nothing is lost, but the
unlocked load against the locked ``+=`` is a data race KCSAN reports (the same load in
``zs_shrinker_count`` is one too; the patch adds another).  Verdict: a data race, benign in
effect.
"""
from model import Upstream


class CompactSkipClassUnlocked(Upstream):
    def zs_compact(self):
        pool = self.pool
        busy = yield pool.compaction_in_progress.rmw(lambda v: 1)
        if busy:
            return 0
        freed = 0
        for cls in reversed(pool.size_class):
            if not (yield from self.zs_can_compact(cls)):
                continue
            freed += yield from self._zs_compact(cls)
        yield pool.compaction_in_progress.write(0)
        return freed
