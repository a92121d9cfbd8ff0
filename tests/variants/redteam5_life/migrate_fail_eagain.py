"""zs_page_migrate: return -EAGAIN instead of -EINVAL when the zspage write trylock fails
("a reader holds the zspage: that is transient, let migrate_pages() retry the page").

Decided before running zsmc: NOT A BUG.  §2.5 step 4: on failure zs_page_migrate undoes its
locks and returns an error; nothing was changed before the commit point (hazard 17 holds).
-EAGAIN makes the core retry the page a bounded number of times (each retry is a fresh
zs_page_migrate with the page locked again), then put it back: the same states as -EINVAL,
only more attempts.  Readers may sleep holding the lock, so a retry may fail again: liveness
only (hazard 25).
"""
from checker import Bug, label
from model import Upstream
from model.migrate import MIGRATEPAGE_SUCCESS

EAGAIN = 11


class MigrateFailEagain(Upstream):
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
            return -EAGAIN
        yield newpage.desc.access(write=True)
        newpage.zsmalloc = True
        yield from self.copy_page_and_rewrite_handles(newpage, page)
        yield from self.replace_sub_page(cls, zspage, newpage, page)
        yield pool.lock.release()
        yield cls.lock.release()
        yield from self.zspage_write_unlock(zspage)
        yield from self.zpdesc_get(newpage)
        yield from self.reset_zpdesc(page)
        yield from self.zpdesc_put(page)
        return MIGRATEPAGE_SUCCESS
