"""Backport of the trylock writer to 6.11-6.14 (a) zs_page_migrate ("don't spin in atomic
context for mappers; fail the migration instead")::

    __zpdesc_set_zsmalloc(newzpdesc);            /* unchanged: before any lock */
    write_lock(&pool->migrate_lock);
    spin_lock(&class->lock);
    if (!write_trylock(&zspage->lock)) {
            spin_unlock(&class->lock);
            write_unlock(&pool->migrate_lock);
            return -EINVAL;
    }

The trylock alone is fine, but (a) tags newpage as a zsmalloc page before taking any lock,
which was harmless only while the function could not fail: a failed migration now hands
the new page back to the allocator still tagged (hazard 17, Yosry's v5 review; the series
moved the tag after the commit point).  Verdict: a real bug.
"""
from checker import Bug, label
from model import Legacy
from model.migrate import EINVAL, MIGRATEPAGE_SUCCESS


class LegacyMigrateWriteTrylock(Legacy):
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
