"""async_free_zspage skips a class whose 0% count is zero without taking its lock ("most
classes have no empty zspage; don't bounce every class->lock")::

    for (class_idx = 0; class_idx < ZS_SIZE_CLASSES; class_idx++) {
        class = pool->size_class[class_idx];
        if (class->index != class_idx)
            continue;
        if (!zs_stat_get(class, ZS_INUSE_RATIO_0))      /* new, unlocked */
            continue;
        spin_lock(&class->lock);
        list_splice_init(&class->fullness_list[ZS_INUSE_RATIO_0], &free_pages);
        spin_unlock(&class->lock);
    }

``class->stats[ZS_INUSE_RATIO_0]`` is updated by ``insert_zspage``/``remove_zspage`` under
``class->lock`` (§1 a, §2.6 "decrement the 0% per-fullness stat"); the unlocked
``zs_stat_get`` is a plain load against those stores.  A class skipped on a stale zero is
only freed at the next run of the work (the free that empties a zspage kicks it again).
Verdict: a data race KCSAN reports, benign in effect.
"""
from checker import SharedList, label
from model import V5
from model.pool import DEFERRED, FREEING, ZS_INUSE_RATIO_0


class V5AsyncFreeSkipClassUnlocked(V5):
    def async_free_zspage(self):
        pool = self.pool
        for cls in pool.size_class:
            yield cls.obj.access(marked=False)
            if not cls.stats[ZS_INUSE_RATIO_0]:
                continue
            yield cls.lock.acquire()
            yield label("async_free_zspage")
            yield cls.obj.access(write=True, marked=False)
            spliced = cls.fullness_list[ZS_INUSE_RATIO_0]
            cls.fullness_list[ZS_INUSE_RATIO_0] = SharedList()
            for zspage in spliced:
                yield zspage.obj.access(write=True, marked=False)
                zspage.list = DEFERRED
            pool.deferred.extend(spliced)
            yield cls.lock.release()
        while pool.deferred:
            zspage = pool.deferred[0]
            yield zspage.obj.access(write=True, marked=False)
            pool.deferred.remove(zspage)
            zspage.list = FREEING
            yield from self.lock_zspage(zspage)
            cls = zspage.cls
            yield cls.lock.acquire()
            yield from self.class_stat_sub(cls, ZS_INUSE_RATIO_0, 1)
            yield from self._free_zspage(cls, zspage)
            yield cls.lock.release()
