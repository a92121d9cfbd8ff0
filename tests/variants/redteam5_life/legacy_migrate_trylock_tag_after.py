"""6.11-6.14 zs_page_migrate: the write-trylock of legacy_migrate_trylock_keeps_early_tag,
with the newpage tagging moved after the trylock (the series' own fix, §2.5 step 5):

    if (!write_trylock(&zspage->lock)) { unlock class, pool; return -EINVAL; }
    /* We're committed, tell the world that this is a Zsmalloc page. */
    __SetPageZsmalloc(newpage);

Decided before running zsmc: NOT A BUG.  A failed migration leaves no trace (hazard 17); the
writer still holds migrate_lock (W) and class->lock, so it stays atomic and never waits for a
reader (§3 rules 2-3 hold a fortiori).  Mappers are atomic in (a), so the trylock fails only
against a mapper on another CPU: migration is put back and retried later (liveness only).
"""
from checker import Bug, label
from model import Legacy
from model.migrate import EINVAL, MIGRATEPAGE_SUCCESS


class LegacyMigrateTrylockTagAfter(Legacy):
    def zs_page_migrate(self, newpage, page):
        yield page.desc.access()
        if not page.isolated:
            raise Bug(f"zs_page_migrate: VM_BUG_ON_PAGE(!PageIsolated({page.name}))")
        zspage = yield from self.get_zspage(page)
        pool = self.pool
        yield pool.lock.acquire()
        yield label("zs_page_migrate")
        cls = zspage.cls
        yield cls.lock.acquire()
        if not (yield zspage.zl.try_acquire()):
            yield cls.lock.release()
            yield pool.lock.release()
            return -EINVAL
        yield newpage.desc.access(write=True)
        newpage.zsmalloc = True
        yield from self.copy_page_and_rewrite_handles(newpage, page)
        yield from self.replace_sub_page(cls, zspage, newpage, page)
        yield pool.lock.release()
        yield cls.lock.release()
        yield from self.migrate_write_unlock(zspage)
        yield from self.zpdesc_get(newpage)
        yield from self.reset_zpdesc(page)
        yield from self.zpdesc_put(page)
        return MIGRATEPAGE_SUCCESS
