"""zs_page_migrate: `zpdesc_get(newzpdesc)` moved before the unlocks, right after
replace_sub_page (after the trylock commit point).  The reference is taken once the
migration can no longer fail, so it is never leaked; taking a reference is allowed in atomic
context: not a bug (§2.5 steps 8-10; hazard 17 is about side effects *before* ZWT)."""
from model import Upstream
from model.migrate import EINVAL, MIGRATEPAGE_SUCCESS
from checker import Bug, label


class MigrateGetNewpageBeforeUnlock(Upstream):
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
        yield pool.lock.release()
        yield cls.lock.release()
        yield from self.zspage_write_unlock(zspage)
        yield from self.reset_zpdesc(page)
        yield from self.zpdesc_put(page)
        return MIGRATEPAGE_SUCCESS
