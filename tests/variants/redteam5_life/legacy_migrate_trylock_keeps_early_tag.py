"""6.11-6.14 zs_page_migrate: write-trylock the zspage instead of the blocking
migrate_write_lock ("don't spin on mappers in atomic context; let migration retry"), as the
2025 series does, but keep the newpage tagging where it was, before any lock:

    __SetPageZsmalloc(newpage);                 /* unchanged, before any lock */
    ...
    write_lock(&pool->migrate_lock);
    spin_lock(&class->lock);
    if (!write_trylock(&zspage->lock)) {
            spin_unlock(&class->lock);
            write_unlock(&pool->migrate_lock);
            return -EINVAL;
    }

Decided before running zsmc: a REAL BUG.  Hazard 17 exactly: "In (a) zs_page_migrate tagged
newpage as a zsmalloc page before taking any lock -- harmless when the function could not
fail.  With a failing trylock the new page would be handed back to the allocator still
carrying zsmalloc state."  The core frees newpage on failure: Bad page state.  It needs a
mapper holding the zspage read lock while migration runs (two CPUs: legacy mappers are atomic).
"""
from checker import Bug, label
from model import Legacy
from model.migrate import EINVAL, MIGRATEPAGE_SUCCESS


class LegacyMigrateTrylockKeepsEarlyTag(Legacy):
    def zs_page_migrate(self, newpage, page):
        yield page.desc.access()
        if not page.isolated:
            raise Bug(f"zs_page_migrate: VM_BUG_ON_PAGE(!PageIsolated({page.name}))")
        yield newpage.desc.access(write=True)
        newpage.zsmalloc = True
        zspage = yield from self.get_zspage(page)
        pool = self.pool
        yield pool.lock.acquire()
        yield label("zs_page_migrate")
        cls = zspage.cls
        yield cls.lock.acquire()
        if not (yield zspage.zl.try_acquire()):
            yield cls.lock.release()
            yield pool.lock.release()
            return -EINVAL
        yield from self.copy_page_and_rewrite_handles(newpage, page)
        yield from self.replace_sub_page(cls, zspage, newpage, page)
        yield pool.lock.release()
        yield cls.lock.release()
        yield from self.migrate_write_unlock(zspage)
        yield from self.zpdesc_get(newpage)
        yield from self.reset_zpdesc(page)
        yield from self.zpdesc_put(page)
        return MIGRATEPAGE_SUCCESS
