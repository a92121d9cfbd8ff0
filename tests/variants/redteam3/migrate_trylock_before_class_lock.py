"""6.15 zs_page_migrate: ZWT(zspage) moved before S(class) ("fail early, before taking
the class lock").  The write trylock returns holding zsl->lock, a real spin_lock, and
class->lock is then taken inside it; compaction takes class->lock and then spin_lock(&zsl->lock) of
its src in zspage_write_trylock.  Migration of a page of zspage Z against compaction with
src Z: each holds one and spins on the other (ABBA).  A real bug: §3 lock order
(class->lock before the zspage lock, zsl->lock innermost), §2.5 steps 3-4."""
from checker import Bug, label
from model import Upstream
from model.migrate import EINVAL, MIGRATEPAGE_SUCCESS


class MigrateTrylockBeforeClassLock(Upstream):
    def zs_page_migrate(self, newpage, page):
        zspage = yield from self.get_zspage(page)
        if not page.isolated:
            raise Bug(f"zs_page_migrate: VM_BUG_ON_PAGE(!zpdesc_is_isolated({page.name}))")
        pool = self.pool
        yield pool.lock.acquire()
        yield label("zs_page_migrate")
        cls = zspage.cls
        if not (yield from self.zspage_write_trylock(zspage)):
            yield pool.lock.release()
            return -EINVAL
        yield cls.lock.acquire()
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
