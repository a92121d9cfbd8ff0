"""zs_page_migrate: the final unlocks made LIFO -- ZWU(zspage), then class->lock, then
pool->lock (W) -- instead of pool, class, zspage ("unlock in reverse order").  NOT a bug:
the zspage lock is released while the outer locks are still held, which only closes the
short window of §2.5 step 9 in which a reader spins on zsl->lock; every state the writer
publishes is complete before any lock is released (§2.5 step 9, §3)."""
from checker import Bug, label
from model import Upstream
from model.migrate import EINVAL, MIGRATEPAGE_SUCCESS


class MigrateLifoUnlock(Upstream):
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
