"""async_free_zspage takes class->lock *before* lock_zspage drops the zspage read lock
("free the zspage in one critical section with its pages locked and readers excluded")::

    lock_zspage(zspage);            /* now returns holding the read lock */
    spin_lock(&class->lock);
    zspage_read_unlock(zspage);
    class_stat_sub(...); __free_zspage(...);
    spin_unlock(&class->lock);

Upstream (c): the read lock is only the count; a writer holding class->lock
(migration of one of the spliced zspage's pages) only trylocks the zspage lock and backs
off (-EINVAL), so the worker's wait for class->lock is bounded; the count is back to 0
before __free_zspage (I4).  Lockdep: zspage->lock (read) -> class->lock, and no
class->lock -> zspage->lock edge (writers annotate a trylock).  Verdict: not a bug in (c).
(Contrast legacy_async_free_class_lock_under_read.py.)
"""
from checker import SharedList, label
from model import Upstream
from model.pool import DEFERRED, FREEING, ZS_INUSE_RATIO_0


class AsyncFreeClassLockUnderRead(Upstream):
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
