"""async_free_zspage: account the 0% zspages when they leave the class list, at the splice,
instead of one by one when each is freed ("the counter is per list: count the exit where it
happens, under the lock that already covers it"):

    spin_lock(&class->lock);
    list_for_each_entry(zspage, &class->fullness_list[ZS_INUSE_RATIO_0], list)
            class_stat_sub(class, ZS_INUSE_RATIO_0, 1);
    list_splice_init(&class->fullness_list[ZS_INUSE_RATIO_0], &free_pages);
    spin_unlock(&class->lock);
    ...
    lock_zspage(zspage);
    spin_lock(&class->lock);
    __free_zspage(pool, class, zspage);          /* no class_stat_sub here */
    spin_unlock(&class->lock);

Decided before running zsmc: NOT A BUG.  Bug 12's invariant is "per-fullness counters = list
lengths; every list exit goes through the accounting helper": the spliced zspages exit the
0% list at the splice, so this is the invariant to the letter (the merged fix, decrementing
at the free, keeps the worker's zspages counted until then; both end at the same count once
the worker is done).  Nothing reads the per-fullness counters for a decision (zs_can_compact
reads OBJS_ALLOCATED/OBJS_INUSE, §2.4 step 2); the change is under the same class->lock.
"""
from checker import SharedList, label
from model import Upstream
from model.pool import DEFERRED, FREEING, ZS_INUSE_RATIO_0


class AsyncFreeStatAtSplice(Upstream):
    def async_free_zspage(self):
        pool = self.pool
        for cls in pool.size_class:
            yield cls.lock.acquire()
            yield label("async_free_zspage")
            yield cls.obj.access(write=True)
            spliced = cls.fullness_list[ZS_INUSE_RATIO_0]
            for zspage in spliced:
                yield from self.class_stat_sub(cls, ZS_INUSE_RATIO_0, 1)
            cls.fullness_list[ZS_INUSE_RATIO_0] = SharedList()
            for zspage in spliced:
                yield zspage.obj.access(write=True)
                zspage.list = DEFERRED
            pool.deferred.extend(spliced)
            yield cls.lock.release()
        while pool.deferred:
            zspage = pool.deferred[0]
            yield zspage.obj.access(write=True)
            pool.deferred.remove(zspage)
            zspage.list = FREEING
            yield from self.lock_zspage(zspage)
            cls = zspage.cls
            yield cls.lock.acquire()
            yield from self._free_zspage(cls, zspage)
            yield cls.lock.release()
