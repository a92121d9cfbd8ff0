"""zs_page_migrate: the empty-zspage early exit of migrate_skip_empty_zspage, but placed after
the zspage write trylock ("we need the zspage stable to look at it"):

    if (!zspage_write_trylock(zspage)) { ...; return -EINVAL; }
    if (!get_zspage_inuse(zspage)) {
            spin_unlock(&class->lock);
            write_unlock(&pool->lock);
            return -EBUSY;
    }

Decided before running zsmc: a REAL BUG.  The new exit returns holding the zspage write lock
(§1c: cnt = -1 and zsl->lock still held): the zspage lock is never released.  The deferred
free worker's lock_zspage (a reader, §2.6) then spins forever on zsl->lock (a leaked
spinlock: lock balance, I2), and the task returns to the migration core atomic.
"""
from checker import Bug, label
from model import Upstream
from model.migrate import EINVAL, MIGRATEPAGE_SUCCESS

EBUSY = 16


class MigrateSkipEmptyAfterTrylock(Upstream):
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
        yield zspage.obj.access()
        if not zspage.inuse:
            yield cls.lock.release()
            yield pool.lock.release()
            return -EBUSY
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
