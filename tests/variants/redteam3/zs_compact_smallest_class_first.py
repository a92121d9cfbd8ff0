"""zs_compact: the classes are walked from the smallest to the largest.  Each class is
compacted under its own locks, one at a time: the order changes which pages are freed
first, not the protocol.  Not a bug (§2.4 zs_compact: "largest to smallest" is a
heuristic)."""
from model import Upstream


def _set_one(v):
    return 1


class ZsCompactSmallestClassFirst(Upstream):
    def zs_compact(self):
        pool = self.pool
        busy = yield pool.compaction_in_progress.rmw(_set_one)
        if busy:
            return 0
        freed = 0
        for cls in pool.size_class:
            freed += yield from self._zs_compact(cls)
        yield pool.compaction_in_progress.write(0)
        return freed
