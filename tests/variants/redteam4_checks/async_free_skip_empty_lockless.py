"""async_free_zspage skips a size class whose 0% list is empty without taking its lock:

    for (i = 0; i < ZS_SIZE_CLASSES; i++) {
        class = pool->size_class[i];
        if (list_empty(&class->fullness_list[ZS_INUSE_RATIO_0]))   /* READ_ONCE */
            continue;
        spin_lock(&class->lock);
        list_splice_init(&class->fullness_list[ZS_INUSE_RATIO_0], &free_pages);
        spin_unlock(&class->lock);
    }

(a worker that scans hundreds of classes takes only the locks it needs).  The lockless
test is ``list_empty`` (a READ_ONCE of the head), written in the model as a step of its
own (``yield cls.obj.access()``), as docs/model.md says a lockless kernel read is.

Verdict decided from the protocol document before running zsmc: NOT A BUG.
§2.6 / §2.2 step 7: a zspage reaches a 0% list only under ``class->lock`` (zs_free's
fix_fullness_group, compaction's putback) and is then either freed at once (trylock_zspage
succeeds) or followed by ``kick_deferred_free`` = ``schedule_work`` *after* the list insert;
the worker's round starts after the pending bit was cleared (a full barrier), so every zspage
whose kick the round consumed is seen by the lockless test.  One inserted after the test
comes with a kick that sets the pending bit again, so I7 (an empty zspage is freed or has
free work pending) holds; a stale "empty" only defers the free to the next round.  The
splice itself is still under ``class->lock`` (§2.6 step 1, I5/I6 unchanged).
"""
from checker import SharedList, label
from model import Upstream
from model.pool import DEFERRED, ZS_INUSE_RATIO_0


class AsyncFreeSkipEmptyLockless(Upstream):
    def async_free_zspage(self):
        pool = self.pool
        first = True
        for cls in pool.size_class:
            yield cls.obj.access()                  # list_empty(): READ_ONCE(head->next)
            if not cls.fullness_list[ZS_INUSE_RATIO_0]:
                continue
            yield cls.lock.acquire()
            if first:
                yield label("async_free_zspage")
                first = False
            yield cls.obj.access(write=True)
            spliced = cls.fullness_list[ZS_INUSE_RATIO_0]
            cls.fullness_list[ZS_INUSE_RATIO_0] = SharedList()
            for zspage in spliced:
                yield zspage.obj.access(write=True)
                zspage.list = DEFERRED
            pool.deferred.extend(spliced)
            yield cls.lock.release()
        yield from self._free_deferred()

    def _free_deferred(self):
        """The second half of async_free_zspage, unchanged."""
        from model.pool import FREEING
        pool = self.pool
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
