"""zs_page_migrate (6.15) rebuilds the page chain after dropping the locks (the same patch
as legacy_migrate_chain_after_write_unlock, on the zspage lock of 6.15)::

    write_unlock(&pool->lock);
    spin_unlock(&class->lock);
    zspage_write_unlock(zspage);
    replace_sub_page(class, zspage, newzpdesc, zpdesc);     /* moved out */

The chain words (``zpdesc->zspage``, ``->next``, the first bit, ``zspage->first_zpdesc``)
are read by ``zs_obj_read_begin``'s walk to the second page of a spanning object and by
``lock_zspage`` under the zspage read lock (§1 c, §2.3, §2.6), and rewritten by other
migrations under ``W(pool)`` (§2.5 step 8).  Verdict: a real bug (a data race KCSAN
reports).
"""
from checker import Bug, label
from model import Upstream
from model.migrate import EINVAL, MIGRATEPAGE_SUCCESS


class MigrateChainAfterUnlock(Upstream):
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
        yield newpage.desc.access(write=True, marked=False)
        newpage.zsmalloc = True
        yield from self.copy_page_and_rewrite_handles(newpage, page)
        yield pool.lock.release()
        yield cls.lock.release()
        yield from self.zspage_write_unlock(zspage)
        yield from self.replace_sub_page(cls, zspage, newpage, page)
        yield from self.zpdesc_get(newpage)
        yield from self.reset_zpdesc(page)
        yield from self.zpdesc_put(page)
        return MIGRATEPAGE_SUCCESS
