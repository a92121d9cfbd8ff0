"""v5 zs_page_migrate: try the zspage write lock before the pool and class locks ("if a
reader holds the zspage there is no point in contending for pool->lock; bail out early")::

        zspage = get_zspage(zpdesc);
    +   if (!zspage_try_write_lock(zspage))
    +           return -EINVAL;
        pool_write_lock(pool);
        size_class_lock(class);
    -   if (!zspage_try_write_lock(zspage)) {
    -           size_class_unlock(class);
    -           pool_write_unlock(pool);
    -           return -EINVAL;
    -   }

Verdict from the protocol before running zsmc: a REAL BUG on both configurations.  The
documented order is pool->lock -> class->lock -> zspage->lock (§3); readers take the zspage
read lock while holding pool->lock (R) and in v5 spin while the counter is -1 (§1 b, §2.3
step 2).  A reader holding pool->lock (R) spins on the write-locked counter while the
migrator, write-locked and atomic, waits for pool->lock (W): a deadlock on two CPUs (!RT;
the writer waits for a reader, writers-never-block).  On PREEMPT_RT, besides, v5's writer
trylock disables preemption, and pool->lock and class->lock are sleeping locks there: taking
them inside it is sleep-in-atomic (hazard 26).  v5: read-migrate (!RT), migrate-single (rt).
"""
from checker import Bug, label
from model import V5
from model.migrate import EINVAL, MIGRATEPAGE_SUCCESS


class V5MigrateTrylockBeforePoolLock(V5):
    def zs_page_migrate(self, newpage, page):
        zspage = yield from self.get_zspage(page)
        if not page.isolated:
            raise Bug(f"zs_page_migrate: VM_BUG_ON_PAGE(!zpdesc_is_isolated({page.name}))")
        if not (yield from self.zspage_write_trylock(zspage)):
            return -EINVAL
        pool = self.pool
        yield pool.lock.acquire()
        yield label("zs_page_migrate")
        cls = zspage.cls
        yield cls.lock.acquire()
        yield newpage.desc.access(write=True, marked=False)
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
