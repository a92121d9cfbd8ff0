"""v5 zs_page_migrate keeps (a)'s order: newpage is tagged a zsmalloc page (page type) on
entry, before any lock ("it was like that before"), and the new trylock can now fail with
-EINVAL.  The migration core then frees newpage still typed zsmalloc: Bad page state.
A real bug: hazard 17 (side effect before the trylock commit point; Yosry's v5 review
"why move __zpdesc_set_zsmalloc"), §2.5 step 5."""
from checker import Bug, label
from model import V5
from model.migrate import EINVAL, MIGRATEPAGE_SUCCESS


class V5MigrateTagBeforeTrylock(V5):
    def zs_page_migrate(self, newpage, page):
        yield newpage.desc.access(write=True)
        newpage.zsmalloc = True
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
        yield from self.copy_page_and_rewrite_handles(newpage, page)
        yield from self.replace_sub_page(cls, zspage, newpage, page)
        yield pool.lock.release()
        yield cls.lock.release()
        yield from self.zspage_write_unlock(zspage)
        yield from self.zpdesc_get(newpage)
        yield from self.reset_zpdesc(page)
        yield from self.zpdesc_put(page)
        return MIGRATEPAGE_SUCCESS
