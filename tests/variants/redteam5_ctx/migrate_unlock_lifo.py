"""zs_page_migrate releases in LIFO order: zspage write unlock, class unlock, pool unlock
("unlock in reverse order; the non-LIFO release leaves the writer holding only the zspage
lock for a moment").

The write section only gets shorter inside the same pool W + class lock section; the writer
is atomic throughout (it holds spinning locks, and zsl->lock until ZWU); readers under
pool->lock (R) could not meet it anyway, and lock_zspage now meets it less often.  Verdict:
not a bug (§2.5 step 9, §3 "writers hold the zspage write lock only while holding pool->lock
(W) and class->lock").
"""
from checker import Bug, label
from model import Upstream
from model.migrate import EINVAL, MIGRATEPAGE_SUCCESS


class MigrateUnlockLifo(Upstream):
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
        yield from self.zspage_write_unlock(zspage)
        yield cls.lock.release()
        yield pool.lock.release()
        yield from self.zpdesc_get(newpage)
        yield from self.reset_zpdesc(page)
        yield from self.zpdesc_put(page)
        return MIGRATEPAGE_SUCCESS
