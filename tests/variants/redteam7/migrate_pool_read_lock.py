"""zs_page_migrate takes pool->lock for *reading* ("migration only needs to keep compaction
out, and compaction takes pool->lock for writing; lookups are kept out by the zspage write
lock"; two migrations of different pages could then run in parallel)::

    read_lock(&pool->lock);            /* was: write_lock */
    spin_lock(&class->lock);
    if (!zspage_write_trylock(zspage)) { ... }
    ...
    read_unlock(&pool->lock);

Verdict from the protocol before running zsmc: a REAL BUG.  §2.5 step 2: "W(pool) --
excludes every handle lookup (zs_free, obj_read/write)"; I1: the handle -> location mapping
changes only under pool->lock (W).  With R, zs_free or zs_obj_read_begin reads the handle
while migration rewrites it: zs_free looks up the old page, waits for class->lock, and then
frees the object in the old page after migration copied it (the object survives in the new
page, its handle freed: a leak and a stale free list), or a reader read-locks the zspage after
the writer drops it holding a location in the freed old page (I3).
"""
from checker import Bug, label
from model import Upstream
from model.migrate import EINVAL, MIGRATEPAGE_SUCCESS


class MigratePoolReadLock(Upstream):
    def zs_page_migrate(self, newpage, page):
        zspage = yield from self.get_zspage(page)
        if not page.isolated:
            raise Bug(f"zs_page_migrate: VM_BUG_ON_PAGE(!zpdesc_is_isolated({page.name}))")
        pool = self.pool
        yield pool.lock.acquire(shared=True)
        yield label("zs_page_migrate")
        cls = zspage.cls
        yield cls.lock.acquire()
        if not (yield from self.zspage_write_trylock(zspage)):
            yield cls.lock.release()
            yield pool.lock.release()
            return -EINVAL
        yield newpage.desc.access(write=True)
        newpage.zsmalloc = True
        yield from self.copy_page_and_rewrite_handles(newpage, page)
        yield from self.replace_sub_page(cls, zspage, newpage, page)
        yield pool.lock.release()
        yield cls.lock.release()
        yield from self.zspage_write_unlock(zspage)
        yield from self.zpdesc_get(newpage)
        yield from self.reset_zpdesc(page)
        yield from self.zpdesc_put(page)
        return MIGRATEPAGE_SUCCESS
