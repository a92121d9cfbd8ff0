"""zs_page_migrate (5.x) gives up early on a zspage that is being emptied, before taking any
lock ("migrating a zspage whose last object is gone is wasted work")::

    zspage = get_zspage(page);
    if (!get_zspage_inuse(zspage))          /* new, before migrate_lock and class->lock */
        return -EAGAIN;
    pool = zspage->pool;
    write_lock(&pool->migrate_lock);

``zspage->inuse`` is ``class->lock``'s (§1 a: ``obj_free``'s ``mod_zspage_inuse`` runs under
it); the page lock the migration holds keeps the zspage alive, not its counters.  Giving up
is harmless (the core puts the page back), but the load is a plain read racing with
``zs_free``'s locked decrement.  Verdict: a data race KCSAN reports, benign in effect.
"""
from checker import Bug, label
from model import Legacy
from model.migrate import MIGRATEPAGE_SUCCESS

EAGAIN = 11


class LegacyMigrateSkipEmptyUnlocked(Legacy):
    def zs_page_migrate(self, newpage, page):
        yield page.desc.access(marked=False)
        if not page.isolated:
            raise Bug(f"zs_page_migrate: VM_BUG_ON_PAGE(!PageIsolated({page.name}))")
        zspage = yield from self.get_zspage(page)
        yield zspage.obj.access(marked=False)
        if not zspage.inuse:
            return -EAGAIN
        yield newpage.desc.access(write=True, marked=False)
        newpage.zsmalloc = True
        pool = self.pool
        yield pool.lock.acquire()
        yield label("zs_page_migrate")
        cls = zspage.cls
        yield cls.lock.acquire()
        yield from self.migrate_write_lock(zspage)
        yield from self.copy_page_and_rewrite_handles(newpage, page)
        yield from self.replace_sub_page(cls, zspage, newpage, page)
        yield pool.lock.release()
        yield cls.lock.release()
        yield from self.migrate_write_unlock(zspage)
        yield from self.zpdesc_get(newpage)
        yield from self.reset_zpdesc(page)
        yield from self.zpdesc_put(page)
        return MIGRATEPAGE_SUCCESS
