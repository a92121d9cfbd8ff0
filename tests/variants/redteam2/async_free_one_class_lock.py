"""async_free_zspage: every class's 0% list spliced under one lock, the first class's
("one lock round-trip instead of one per class"), then the frees done under each zspage's
own class lock as before.  With more than one size class, the other classes' fullness
lists and stats are changed under a lock zs_malloc and zs_free of those classes do not
take: concurrent list_del/list_add on the same list.  A real bug (§2.6 step 1 "for each
class: S(class); splice"; every function of the fullness lists runs under that class's
lock)."""
from checker import SharedList, label
from model import Upstream
from model.pool import DEFERRED, FREEING, ZS_INUSE_RATIO_0


class AsyncFreeOneClassLock(Upstream):
    def async_free_zspage(self):
        pool = self.pool
        first = pool.size_class[0]
        yield first.lock.acquire()
        yield label("async_free_zspage")
        for cls in pool.size_class:
            yield cls.obj.access(write=True)
            spliced = cls.fullness_list[ZS_INUSE_RATIO_0]
            cls.fullness_list[ZS_INUSE_RATIO_0] = SharedList()
            for zspage in spliced:
                yield zspage.obj.access(write=True)
                zspage.list = DEFERRED
            pool.deferred.extend(spliced)
        yield first.lock.release()
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
