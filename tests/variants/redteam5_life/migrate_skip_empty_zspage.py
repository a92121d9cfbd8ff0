"""zs_page_migrate: do not migrate a page of an empty zspage ("it is about to be freed by
the deferred-free work; copying it is wasted work"):

    spin_lock(&class->lock);
    if (!get_zspage_inuse(zspage)) {
            spin_unlock(&class->lock);
            write_unlock(&pool->lock);
            return -EBUSY;
    }
    if (!zspage_write_trylock(zspage)) { ... }

Decided before running zsmc: NOT A BUG.  The test is made under class->lock, which every
writer of inuse holds (§2.2 step 6, §2.1 step 5); the failure path undoes both locks before
the commit point and changes nothing (hazard 17 holds); the core puts the page back
(§2.5 step 4: "migration core will put the page back").  An empty zspage stays on the 0% list
or with the free worker, which frees it as before (I7 is unaffected: the work is pending for
it already).
"""
from checker import Bug, label
from model import Upstream
from model.migrate import EINVAL, MIGRATEPAGE_SUCCESS

EBUSY = 16


class MigrateSkipEmptyZspage(Upstream):
    def zs_page_migrate(self, newpage, page):
        zspage = yield from self.get_zspage(page)
        if not page.isolated:
            raise Bug(f"zs_page_migrate: VM_BUG_ON_PAGE(!zpdesc_is_isolated({page.name}))")
        pool = self.pool
        yield pool.lock.acquire()
        yield label("zs_page_migrate")
        cls = zspage.cls
        yield cls.lock.acquire()
        yield zspage.obj.access()
        if not zspage.inuse:
            yield cls.lock.release()
            yield pool.lock.release()
            return -EBUSY
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
        yield from self.zpdesc_put(page)
        return MIGRATEPAGE_SUCCESS
