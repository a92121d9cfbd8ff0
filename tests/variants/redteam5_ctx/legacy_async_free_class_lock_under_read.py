"""The same patch as async_free_class_lock_under_read.py on 6.11-6.14 (a): async_free_zspage
takes class->lock while lock_zspage still holds migrate_read_lock(zspage).

In (a) the writer's zspage lock is a *blocking* migrate_write_lock taken inside class->lock
(zs_page_migrate: W(migrate_lock), S(class), migrate_write_lock).  Migration of a page of
the spliced zspage (which stays movable, §2.6 step 1) holds class->lock and spins for the
write lock; the worker holds the read lock and spins for class->lock: ABBA deadlock
(§3 order class->lock -> zspage->lock; like catalogue #4, a deadlock in (a) only).
Verdict: a real bug.
"""
from checker import SharedList, label
from model import Legacy
from model.pool import DEFERRED, FREEING, ZS_INUSE_RATIO_0


class LegacyAsyncFreeClassLockUnderRead(Legacy):
    def lock_zspage_held(self, zspage):
        """lock_zspage without its final zspage_read_unlock."""
        while True:
            yield from self.zspage_read_lock(zspage)
            page = yield from self.get_first_zpdesc(zspage)
            if (yield from self.zpdesc_trylock(page)):
                break
            yield from self.zpdesc_get(page)
            yield from self.zspage_read_unlock(zspage)
            yield from self.zpdesc_wait_locked(page)
            yield from self.zpdesc_put(page)
        curr = page
        while True:
            page = yield from self.get_next_zpdesc(curr)
            if page is None:
                break
            if (yield from self.zpdesc_trylock(page)):
                curr = page
            else:
                yield from self.zpdesc_get(page)
                yield from self.zspage_read_unlock(zspage)
                yield from self.zpdesc_wait_locked(page)
                yield from self.zpdesc_put(page)
                yield from self.zspage_read_lock(zspage)

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
            yield from self.lock_zspage_held(zspage)
            cls = zspage.cls
            yield cls.lock.acquire()
            yield from self.zspage_read_unlock(zspage)
            yield from self.class_stat_sub(cls, ZS_INUSE_RATIO_0, 1)
            yield from self._free_zspage(cls, zspage)
            yield cls.lock.release()
