"""zs_page_migrate: the final zpdesc_put(zpdesc) of the old page dropped ("the migration core
holds a reference on the source page and drops it when it is done with it")::

    zpdesc_get(newzpdesc);
    ...
    reset_zpdesc(zpdesc);
    /* zpdesc_put(zpdesc);   removed */
    return MIGRATEPAGE_SUCCESS;

Verdict from the protocol before running zsmc: a REAL BUG (a page leak).  The old page carries
two references during migration: the core's (§2.5: "called with the source page locked and a
reference held") and the zspage's own, taken when the page joined the chain and given back
when it leaves it (§2.5 step 10: "reset old page descriptor, drop the old page reference").
zs_page_migrate takes the zspage's reference on newpage (zpdesc_get) and must drop the one on
the old page: without it the core's put leaves the old page at refcount 1 forever.
"""
from checker import Bug, label
from model import Upstream
from model.migrate import EINVAL, MIGRATEPAGE_SUCCESS


class MigrateKeepsOldPageRef(Upstream):
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
        yield pool.lock.release()
        yield cls.lock.release()
        yield from self.zspage_write_unlock(zspage)
        yield from self.zpdesc_get(newpage)
        yield from self.reset_zpdesc(page)
        return MIGRATEPAGE_SUCCESS
