"""async_free_zspage: take only the head of each class's 0% list per run
(list_first_entry instead of list_splice_init: "bound the work's latency"), without
re-queueing the work for the rest.  An empty zspage behind the first stays on the 0% list
with no free work pending: never freed.  A real bug whenever two zspages are empty at once
(I7; bug 7 of §4 is the same symptom; §2.6 step 1 "splice the whole 0% list")."""
from checker import label
from model import Upstream
from model.pool import DEFERRED, FREEING, ZS_INUSE_RATIO_0


class AsyncFreeOnePerClass(Upstream):
    def async_free_zspage(self):
        pool = self.pool
        for cls in pool.size_class:
            yield cls.lock.acquire()
            yield label("async_free_zspage")
            yield cls.obj.access(write=True)
            lst = cls.fullness_list[ZS_INUSE_RATIO_0]
            if lst:
                zspage = lst.pop(0)
                yield zspage.obj.access(write=True)
                zspage.list = DEFERRED
                pool.deferred.append(zspage)
            yield cls.lock.release()
        while pool.deferred:
            zspage = pool.deferred[0]
            yield zspage.obj.access(write=True)
            pool.deferred.remove(zspage)
            zspage.list = FREEING
            yield from self.lock_zspage(zspage)
            cls = zspage.cls
            yield cls.lock.acquire()
            yield from self.class_stat_sub(cls, ZS_INUSE_RATIO_0, 1)
            yield from self._free_zspage(cls, zspage)
            yield cls.lock.release()
