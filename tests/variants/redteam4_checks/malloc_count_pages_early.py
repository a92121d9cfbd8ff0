"""zs_malloc accounts the new zspage's pages as soon as alloc_zspage returns, before taking
class->lock again:

    zspage = alloc_zspage(pool, class, gfp, nid);
    if (!zspage) { ... }
    atomic_long_add(class->pages_per_zspage, &pool->pages_allocated);   /* moved up */
    spin_lock(&class->lock);
    obj_malloc(pool, zspage, handle);
    ...

(so that zram's limit check, which reads zs_get_total_pages() locklessly, sees the pages
as early as possible).  The add is a plain ``+=`` of the atomic field in the continuation of
alloc_zspage's last step, outside every lock, with no new yield.

Verdict decided from the protocol document before running zsmc: NOT A BUG.
``pool->pages_allocated`` is an ``atomic_long_t`` (§2.1 step 7, §2.2 step 7): its updates
need no lock, and nothing in zsmalloc reads it under class->lock or derives a decision from
it together with class state; its readers (zs_get_total_pages) read it locklessly and
already see it out of step with the class stats (__free_zspage subtracts after
cache_free_zspage, zs_malloc adds after insert_zspage).  I6 concerns the class stats
(OBJS_ALLOCATED, per-fullness counts), which stay under class->lock here.
"""
from checker import label
from model import Upstream
from model.pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE


class MallocCountPagesEarly(Upstream):
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
        self.pool.pages_allocated += cls.pages_per_zspage        # atomic_long_add, moved up
        yield cls.lock.acquire()
        yield from self.obj_malloc(zspage, handle)
        newfg = self.get_fullness_group(cls, zspage)
        yield from self.insert_zspage(cls, zspage, newfg)
        yield from self.class_stat_add(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
        cls.ghost_zspages.append(zspage)
        yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
        yield from self.SetZsPageMovable(zspage)
        yield cls.lock.release()
        return handle
