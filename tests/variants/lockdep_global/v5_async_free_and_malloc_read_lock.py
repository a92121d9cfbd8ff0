"""v5 (section 1b) version of upstream_async_free_and_malloc_read_lock.py. Two patches of one series, each lockdep-clean in the scenarios that run it:

1. async_free_zspage frees the zspage in one critical section, taking class->lock *before*
   lock_zspage drops the zspage read lock (redteam5_ctx/async_free_class_lock_under_read)::

       lock_zspage(zspage);            /* returns holding the read lock */
       spin_lock(&class->lock);
       zspage_read_unlock(zspage);

2. zs_malloc read-locks a zspage it has just allocated, under class->lock, before
   publishing it ("so that a reader racing with the insert sees a locked zspage")::

       spin_lock(&class->lock);
       zspage_read_lock(zspage);       /* rwsem_acquire_read: non-recursive */
       obj_malloc(...); insert_zspage(...); ...
       zspage_read_unlock(zspage);
       spin_unlock(&class->lock);

Lockdep (v5, section 1b: the atomic_t zspage lock's dep_map, read side annotated with
rwsem_acquire_read, a non-recursive read, Documentation/locking/lockdep-design.rst): (1) adds zspage->lock -(SN)->
class->lock, (2) adds class->lock -(EN)-> zspage->lock: a strong cycle, "possible circular
locking dependency" on the first boot that runs both (zram under memory pressure allocates
new zspages and frees deferred ones).  No default scenario runs both paths: the deferred
free runs in free-deferred*, clients-worker, compact-worker and two-classes; zs_malloc's
new-zspage path in malloc-free and malloc-migrate.  Verdict: a lockdep report (the series
is rejected), found only by a graph across scenarios.
"""
from checker import SharedList, label
from model import V5
from model.pool import DEFERRED, FREEING, ZS_INUSE_RATIO_0, ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE


class V5AsyncFreeAndMallocReadLock(V5):
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
        yield from self.zspage_read_lock(zspage)
        yield from self.obj_malloc(zspage, handle)
        newfg = self.get_fullness_group(cls, zspage)
        yield from self.insert_zspage(cls, zspage, newfg)
        self.pool.pages_allocated += cls.pages_per_zspage
        yield from self.class_stat_add(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
        cls.ghost_zspages.append(zspage)
        yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
        yield from self.SetZsPageMovable(zspage)
        yield from self.zspage_read_unlock(zspage)
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
