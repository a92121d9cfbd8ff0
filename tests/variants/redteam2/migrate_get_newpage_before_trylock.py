"""zs_page_migrate: zpdesc_get(newpage) moved to the top ("take the reference before
publishing the page anywhere"), before ZWT; the -EINVAL path does not drop it.  Every
failed migration (a reader holds the zspage) leaks a reference to newpage: the core's
put_page no longer frees it.  A real bug: hazard 17 (a failed zs_page_migrate leaves no
trace), §2.5 steps 4 and 10."""
from checker import Bug, label
from model import Upstream
from model.migrate import EINVAL, MIGRATEPAGE_SUCCESS


class MigrateGetNewpageBeforeTrylock(Upstream):
    def zs_page_migrate(self, newpage, page):
        yield from self.zpdesc_get(newpage)
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
        yield from self.reset_zpdesc(page)
        yield from self.zpdesc_put(page)
        return MIGRATEPAGE_SUCCESS
