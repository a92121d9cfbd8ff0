"""v5 zs_page_migrate: take the newpage reference and reset/put the old page before dropping
the locks ("finish with both pages while the zspage is still write-locked"):

    replace_sub_page(class, zspage, newpage, page);
    get_page(newpage);
    reset_page(page);
    put_page(page);
    write_unlock(&pool->migrate_lock);
    spin_unlock(&class->lock);
    zspage_write_unlock(zspage);

Decided before running zsmc: NOT A BUG.  After the commit point the migration cannot fail, so
the reference on newpage is never leaked (hazard 17 is about side effects *before* the
trylock); get_page/put_page and the descriptor reset are allowed in atomic context; the
old page stays alive through the core's own reference (§2.5: called "with the source page
locked and a reference held"), and nothing of zsmalloc reaches it once the chain names
newpage (replace_sub_page ran under W(pool) + class->lock).
"""
from checker import Bug, label
from model import V5
from model.migrate import EINVAL, MIGRATEPAGE_SUCCESS


class V5MigrateResetInWriteSection(V5):
    def zs_page_migrate(self, newpage, page):
        zspage = yield from self.get_zspage(page)
        if not page.isolated:
            raise Bug(f"zs_page_migrate: VM_BUG_ON_PAGE(!zpdesc_is_isolated({page.name}))")
        pool = self.pool
        yield pool.lock.acquire()
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
        yield from self.zpdesc_get(newpage)
        yield from self.reset_zpdesc(page)
        yield from self.zpdesc_put(page)
        yield pool.lock.release()
        yield cls.lock.release()
        yield from self.zspage_write_unlock(zspage)
        return MIGRATEPAGE_SUCCESS
