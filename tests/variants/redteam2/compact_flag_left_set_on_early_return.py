"""zs_compact: return as soon as a class frees nothing ("nothing to gain in smaller
classes"), but the early return skips the final atomic_set(&pool->compaction_in_progress, 0).
The flag stays set: every later zs_compact (shrinker or sysfs) sees "already in progress"
and returns 0, so the pool is never compacted again.  A real bug: the one-compactor flag
must be cleared on every exit (§2.4 first paragraph, "clear flag")."""
from model import Upstream


def _set_one(v):
    return 1


class CompactFlagLeftSetOnEarlyReturn(Upstream):
    def zs_compact(self):
        pool = self.pool
        busy = yield pool.compaction_in_progress.rmw(_set_one)
        if busy:
            return 0
        freed = 0
        for cls in reversed(pool.size_class):
            pages = yield from self._zs_compact(cls)
            if not pages:
                return freed
            freed += pages
        yield pool.compaction_in_progress.write(0)
        return freed
