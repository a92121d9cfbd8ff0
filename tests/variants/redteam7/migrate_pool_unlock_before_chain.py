"""zs_page_migrate: write_unlock(&pool->lock) moved above replace_sub_page ("every handle
already names the new page; the chain rebuild is covered by class->lock and the zspage write
lock")::

    for (addr = s_addr + offset; ...)          /* rewrite the handles */
        record_obj(handle, new_obj);
    write_unlock(&pool->lock);                 /* moved up */
    replace_sub_page(class, zspage, newzpdesc, zpdesc);
    spin_unlock(&class->lock);
    zspage_write_unlock(zspage);

Verdict from the protocol before running zsmc: a REAL BUG.  §2.3 step 1: a reader takes
R(pool), reads the handle and follows ``zpdesc->zspage`` *before* it takes the zspage lock;
only pool->lock (W) keeps it from seeing a half-migrated page (§2.5 step 2: "W(pool) --
excludes every handle lookup").  In the gap the handle names newpage, whose ``zspage``
pointer replace_sub_page has not set yet: get_zspage() dereferences NULL (or BUG_ON on the
magic).  zs_free (§2.2 step 3) does the same lookup.
"""
from checker import Bug, label
from model import Upstream
from model.migrate import EINVAL, MIGRATEPAGE_SUCCESS


class MigratePoolUnlockBeforeChain(Upstream):
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
        yield pool.lock.release()
        yield from self.replace_sub_page(cls, zspage, newpage, page)
        yield cls.lock.release()
        yield from self.zspage_write_unlock(zspage)
        yield from self.zpdesc_get(newpage)
        yield from self.reset_zpdesc(page)
        yield from self.zpdesc_put(page)
        return MIGRATEPAGE_SUCCESS
