"""upstream_async_free_and_malloc_read_lock.py with zs_malloc's lock a *trylock*::

       spin_lock(&class->lock);
       if (!zspage_write_trylock(zspage))  /* a fresh zspage: always succeeds */
               BUG();
       obj_malloc(...); insert_zspage(...); ...
       zspage_write_unlock(zspage);
       spin_unlock(&class->lock);

with the same async_free_zspage (zspage->lock (read) -> class->lock).  A trylock cannot
wait, so lockdep adds no dependency into the trylocked lock (check_prevs_add() is skipped
for trylock acquisitions, lockdep-design.rst): only class->lock -> zsl->lock, the inner
spinlock every writer already takes under class->lock.  No cycle; rule 3 of section 3
(writers only trylock) is exactly what keeps the zspage lock out of class->lock's
dependencies.  Verdict: lockdep-legal, not a bug: zsmc must stay silent.
"""
from checker import Bug, SharedList, label
from model import Upstream
from model.pool import DEFERRED, FREEING, ZS_INUSE_RATIO_0, ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE


class AsyncFreeAndMallocWriteTrylock(Upstream):
    def zs_malloc(self, size, key):
        handle = yield from self.cache_alloc_handle(key)
        cls = self.pool.class_for(size)
        yield cls.lock.acquire()
        yield label("zs_malloc")
        zspage = yield from self.find_get_zspage(cls)
        if zspage is not None:
            yield from self.obj_malloc(zspage, handle)
            yield from self.fix_fullness_group(cls, zspage)
            yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
            yield cls.lock.release()
            return handle
        yield cls.lock.release()

        zspage = yield from self.alloc_zspage(cls)
        yield cls.lock.acquire()
        if not (yield from self.zspage_write_trylock(zspage)):
            raise Bug("zs_malloc: a new zspage is locked")   # nobody can reach it yet
        yield from self.obj_malloc(zspage, handle)
        newfg = self.get_fullness_group(cls, zspage)
        yield from self.insert_zspage(cls, zspage, newfg)
        self.pool.pages_allocated += cls.pages_per_zspage
        yield from self.class_stat_add(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
        cls.ghost_zspages.append(zspage)
        yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
        yield from self.SetZsPageMovable(zspage)
        yield from self.zspage_write_unlock(zspage)
        yield cls.lock.release()
        return handle

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
