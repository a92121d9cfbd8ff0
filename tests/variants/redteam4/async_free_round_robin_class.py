"""async_free_zspage: one size class per run, round-robin ("bound the work item's latency on
pools with many classes; a later kick picks up the next class"): the worker remembers the
next class in the pool (pool->free_class), splices only that class's 0% list and frees it.
No re-queue of the work for the classes it skipped.

Decided before running zsmc: a REAL BUG.  §2.6 async_free_zspage step 1: "For each class:
S(class); splice the whole 0% list".  The pending bit is cleared when the work starts, so an
empty zspage that free_zspage deferred (kick_deferred_free after a failed trylock_zspage,
§2.2 step 7) in a class other than the one this run picks stays on its 0% list with no work
pending: never freed (I7; the symptom of bug #7).  With one class (or when the deferred
zspage happens to be in the class picked) nothing changes, so it needs two classes and a
deferred free outside the class the worker's turn points at.
"""
from checker import SharedList, label
from model import Upstream
from model.pool import DEFERRED, FREEING, ZS_INUSE_RATIO_0


class AsyncFreeRoundRobinClass(Upstream):
    def async_free_zspage(self):
        pool = self.pool
        yield pool.obj.access(write=True)
        turn = pool.extra.get("free_class", 0)
        pool.extra["free_class"] = (turn + 1) % len(pool.size_class)
        cls = pool.size_class[turn]
        yield cls.lock.acquire()
        yield label("async_free_zspage")
        yield cls.obj.access(write=True)
        spliced = cls.fullness_list[ZS_INUSE_RATIO_0]
        cls.fullness_list[ZS_INUSE_RATIO_0] = SharedList()
        for zspage in spliced:
            yield zspage.obj.access(write=True)
            zspage.list = DEFERRED
        pool.deferred.extend(spliced)
        yield cls.lock.release()
        while pool.deferred:
            zspage = pool.deferred[0]
            yield zspage.obj.access(write=True)     # list_del
            pool.deferred.remove(zspage)
            zspage.list = FREEING
            yield from self.lock_zspage(zspage)
            cls = zspage.cls
            yield cls.lock.acquire()
            yield from self.class_stat_sub(cls, ZS_INUSE_RATIO_0, 1)
            yield from self._free_zspage(cls, zspage)
            yield cls.lock.release()
