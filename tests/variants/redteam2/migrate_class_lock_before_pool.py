"""zs_page_migrate: spin_lock(&class->lock) taken before write_lock(&pool->lock) ("take the
narrow lock first").  zs_free holds pool->lock (R) while it takes class->lock
(hand-over-hand, §2.2 step 4); a migrator holding class->lock and spinning for pool->lock (W)
against such a zs_free is an ABBA deadlock.  A real bug: lock order pool->lock ->
class->lock (§3)."""
from checker import Bug, label
from model import Upstream
from model.migrate import EINVAL, MIGRATEPAGE_SUCCESS


class MigrateClassLockBeforePool(Upstream):
    def zs_page_migrate(self, newpage, page):
        zspage = yield from self.get_zspage(page)
        if not page.isolated:
            raise Bug(f"zs_page_migrate: VM_BUG_ON_PAGE(!zpdesc_is_isolated({page.name}))")
        pool = self.pool
        cls = zspage.cls
        yield cls.lock.acquire()
        yield pool.lock.acquire()
        yield label("zs_page_migrate")
        if not (yield from self.zspage_write_trylock(zspage)):
            yield pool.lock.release()
            yield cls.lock.release()
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
