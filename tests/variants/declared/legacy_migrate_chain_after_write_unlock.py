"""zs_page_migrate (5.x) rebuilds the page chain after dropping the locks ("the data is
copied and every handle already points at the new page; relinking the descriptors is
bookkeeping")::

    replace_sub_page -> moved after the unlocks:
    write_unlock(&pool->migrate_lock);
    spin_unlock(&class->lock);
    migrate_write_unlock(zspage);
    replace_sub_page(class, zspage, newpage, page);

``create_page_chain`` rewrites every page's ``zspage``/``next``/first bit and
``zspage->first_page``; the chain is what ``zs_map_object`` and ``lock_zspage`` walk under
``migrate_read_lock`` (the zspage lock exists for exactly this, §1 a, §2.5 step 8, §4 bug 2),
and another migration of a page of the same zspage rewrites it under the locks.  Unlocked,
the rewrite races with those walks.  Verdict: a real bug (a data race KCSAN reports).
"""
from checker import Bug, label
from model import Legacy
from model.migrate import MIGRATEPAGE_SUCCESS


class LegacyMigrateChainAfterWriteUnlock(Legacy):
    def zs_page_migrate(self, newpage, page):
        yield page.desc.access(marked=False)
        if not page.isolated:
            raise Bug(f"zs_page_migrate: VM_BUG_ON_PAGE(!PageIsolated({page.name}))")
        yield newpage.desc.access(write=True, marked=False)
        newpage.zsmalloc = True
        zspage = yield from self.get_zspage(page)
        pool = self.pool
        yield pool.lock.acquire()
        yield label("zs_page_migrate")
        cls = zspage.cls
        yield cls.lock.acquire()
        yield from self.migrate_write_lock(zspage)
        yield from self.copy_page_and_rewrite_handles(newpage, page)
        yield pool.lock.release()
        yield cls.lock.release()
        yield from self.migrate_write_unlock(zspage)
        yield from self.replace_sub_page(cls, zspage, newpage, page)
        yield from self.zpdesc_get(newpage)
        yield from self.reset_zpdesc(page)
        yield from self.zpdesc_put(page)
        return MIGRATEPAGE_SUCCESS
