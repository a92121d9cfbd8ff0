"""async_free_zspage: the 0% stat decrement (the June 2024 fix) moved after __free_zspage,
still inside the same class->lock section.  The counter is right again before class->lock
is dropped and nobody reads it in between: not a bug (§2.6 step 2, bug 12's fix keeps its
effect)."""
from checker import label
from model import Upstream
from model.pool import FREEING, ZS_INUSE_RATIO_0
from checker import SharedList
from model.pool import DEFERRED


class AsyncFreeStatAfterFree(Upstream):
    def async_free_zspage(self):
        pool = self.pool
        for cls in pool.size_class:
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
            yield zspage.obj.access(write=True)
            pool.deferred.remove(zspage)
            zspage.list = FREEING
            yield from self.lock_zspage(zspage)
            cls = zspage.cls
            yield cls.lock.acquire()
            yield from self._free_zspage(cls, zspage)
            yield from self.class_stat_sub(cls, ZS_INUSE_RATIO_0, 1)
            yield cls.lock.release()
