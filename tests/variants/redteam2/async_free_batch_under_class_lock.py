"""async_free_zspage: the class lock is taken once for the whole batch of spliced zspages
("avoid bouncing class->lock per zspage"), so lock_zspage runs inside spin_lock(&class->lock).
lock_zspage may sleep (folio_wait_locked on a page the migration core holds): sleeping in
atomic context, and a deadlock against a migrator that holds that page lock and spins on
class->lock.  A real bug (§2.6 step 2: lock_zspage, *then* S(class); §3 "sleeps with no lock
held")."""
from checker import SharedList, label
from model import Upstream
from model.pool import DEFERRED, FREEING, ZS_INUSE_RATIO_0


class AsyncFreeBatchUnderClassLock(Upstream):
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
            while pool.deferred:
                zspage = pool.deferred[0]
                yield zspage.obj.access(write=True)
                pool.deferred.remove(zspage)
                zspage.list = FREEING
                yield from self.lock_zspage(zspage)
                yield from self.class_stat_sub(cls, ZS_INUSE_RATIO_0, 1)
                yield from self._free_zspage(cls, zspage)
            yield cls.lock.release()
