"""async_free_zspage: "don't sleep in the worker": lock_zspage only trylocks the first page and
gives up when it is busy; the worker then skips the zspage ("it will be freed next time").  The
skipped zspage is already off the 0% list, so nothing ever frees it (I7, §2.6)."""
from checker import SharedList, label
from model import Upstream
from model.pool import DEFERRED, FREEING, ZS_INUSE_RATIO_0


class LockZspageGivesUp(Upstream):
    def lock_zspage(self, zspage):
        yield from self.zspage_read_lock(zspage)
        page = yield from self.get_first_zpdesc(zspage)
        if not (yield from self.zpdesc_trylock(page)):
            yield from self.zspage_read_unlock(zspage)
            return False
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
        yield from self.zspage_read_unlock(zspage)
        return True

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
            if not (yield from self.lock_zspage(zspage)):
                continue
            cls = zspage.cls
            yield cls.lock.acquire()
            yield from self.class_stat_sub(cls, ZS_INUSE_RATIO_0, 1)
            yield from self._free_zspage(cls, zspage)
            yield cls.lock.release()
