"""legacy zs_page_migrate: migrate_write_lock(zspage) taken first, before
write_lock(&pool->migrate_lock) and the class lock ("lock the object we move before the
global lock, to shorten the global section").  The documented order is page_lock ->
pool->lock -> class->lock -> zspage->lock (§3); a mapper holds migrate_lock (R) while it
takes the zspage read lock, so the migrator (zspage W, waiting for migrate_lock W) and a
mapper (migrate_lock R, spinning on zspage R) wait for each other: ABBA.  A real bug
(lock order, §3; §2.5 a)."""
from checker import Bug, label
from model import Legacy
from model.migrate import MIGRATEPAGE_SUCCESS


class LegacyMigrateZspageLockFirst(Legacy):
    def zs_page_migrate(self, newpage, page):
        yield page.desc.access()
        if not page.isolated:
            raise Bug(f"zs_page_migrate: VM_BUG_ON_PAGE(!PageIsolated({page.name}))")
        yield newpage.desc.access(write=True)
        newpage.zsmalloc = True
        zspage = yield from self.get_zspage(page)
        pool = self.pool
        yield from self.migrate_write_lock(zspage)
        yield pool.lock.acquire()
        yield label("zs_page_migrate")
        cls = zspage.cls
        yield cls.lock.acquire()
        yield from self.copy_page_and_rewrite_handles(newpage, page)
        yield from self.replace_sub_page(cls, zspage, newpage, page)
        yield pool.lock.release()
        yield cls.lock.release()
        yield from self.migrate_write_unlock(zspage)
        yield from self.zpdesc_get(newpage)
        yield from self.reset_zpdesc(page)
        yield from self.zpdesc_put(page)
        return MIGRATEPAGE_SUCCESS
