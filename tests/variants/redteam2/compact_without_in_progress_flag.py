"""zs_compact: the compaction_in_progress xchg removed ("__zs_compact takes pool->lock for
writing anyway").  NOT a bug: the flag is a contention measure (6.4), one compactor per pool
to avoid queueing on pool->lock; two compactors are serialised by pool->lock (W) and each
re-reads the class state under it (§2.4 first paragraph)."""
from model import Upstream


class CompactWithoutInProgressFlag(Upstream):
    def zs_compact(self):
        pool = self.pool
        freed = 0
        for cls in reversed(pool.size_class):
            freed += yield from self._zs_compact(cls)
        return freed
