"""zs_page_migrate: drop zsmalloc's reference on the old page before resetting its descriptor
("the old page is no longer ours once the chain points at newpage"):

    zpdesc_get(newzpdesc);
    ...
    zpdesc_put(zpdesc);
    reset_zpdesc(zpdesc);

Decided before running zsmc: NOT A BUG.  §2.5: "Migration core calls these with the source
page locked and a reference held"; zsmalloc's put is never the last one while
zs_page_migrate runs, so the page is alive when reset_zpdesc writes it, and the core's own
put (after unlocking it) frees a page whose movable flag and type are already clear.
"""
from checker import Bug, label
from model import Upstream
from model.migrate import EINVAL, MIGRATEPAGE_SUCCESS


class MigratePutOldBeforeReset(Upstream):
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
        yield from self.zpdesc_put(page)
        yield from self.reset_zpdesc(page)
        return MIGRATEPAGE_SUCCESS
