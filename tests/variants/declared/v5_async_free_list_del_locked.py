"""async_free_zspage unlinks each spliced zspage from the private list under class->lock
("every list_del of a zspage under its class lock, for uniformity")::

    list_for_each_entry_safe(zspage, tmp, &free_pages, list) {
        class = zspage_class(pool, zspage);
        spin_lock(&class->lock);
        list_del(&zspage->list);            /* moved in */
        spin_unlock(&class->lock);
        lock_zspage(zspage);
        spin_lock(&class->lock);
        ...

The upstream ``list_del`` runs unlocked on purpose: after the splice the zspage is on the
worker's private ``free_pages`` list, which nobody else reaches (§2.6 step 1: "Spliced
zspages are now on no class list").  Taking the class lock around it adds an ordering and
removes none; the lock is dropped before ``lock_zspage`` sleeps.  Verdict: not a bug (and
the unlocked original is no data race either: its accesses are the worker's alone).
"""
from checker import SharedList, label
from model import V5
from model.pool import DEFERRED, FREEING, ZS_INUSE_RATIO_0


class V5AsyncFreeListDelLocked(V5):
    def async_free_zspage(self):
        pool = self.pool
        for cls in pool.size_class:
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
            cls = zspage.cls
            yield cls.lock.acquire()
            yield zspage.obj.access(write=True, marked=False)
            pool.deferred.remove(zspage)
            zspage.list = FREEING
            yield cls.lock.release()
            yield from self.lock_zspage(zspage)
            yield cls.lock.acquire()
            yield from self.class_stat_sub(cls, ZS_INUSE_RATIO_0, 1)
            yield from self._free_zspage(cls, zspage)
            yield cls.lock.release()
