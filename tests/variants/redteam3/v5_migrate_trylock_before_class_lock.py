"""v5 zs_page_migrate: zspage_try_write_lock moved before S(class) ("fail early").  v5's
write lock is an atomic counter taken by cmpxchg: nothing ever waits for it while holding
class->lock (compaction only trylocks it), so no ABBA on !PREEMPT_RT.  But the trylock
disables preemption, and class->lock is then *acquired* inside that region: on PREEMPT_RT a
sleeping lock taken with preemption disabled ("sleeping function called from invalid
context").  Not a bug on !RT; a real bug on RT (hazard 26, §1 b write trylock)."""
from checker import Bug, label
from model import V5
from model.migrate import EINVAL, MIGRATEPAGE_SUCCESS


class V5MigrateTrylockBeforeClassLock(V5):
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
