"""6.11-6.14: bring back zspage->isolated (removed in 6.9 as unused) as 6.5-6.8 had it after
Andrew Yang's fix 4b5d1e47b694: every update under the class lock (pool->lock then):

    zs_page_isolate:  spin_lock(&class->lock); inc_zspage_isolation(zspage); spin_unlock(...);
    zs_page_migrate:  ... dec_zspage_isolation(zspage);   /* before spin_unlock(&class->lock) */
    zs_page_putback:  spin_lock(&class->lock); dec_zspage_isolation(zspage); spin_unlock(...);

with dec_zspage_isolation's VM_BUG_ON(zspage->isolated == 0).  (The counter is a field of its
own here, not a bitfield of the fullness word.)

Decided before running zsmc: NOT A BUG.  §2.5 (a) "5.17-6.8: also zspage->isolated++
(under migrate_write_lock until the 2023 fix, then under pool/class lock)"; bug 5's
invariant: "all fields sharing a word with fullness are written under class->lock".  Each
isolation is matched by exactly one decrement (migrate on success, putback on failure; a page
whose zspage was freed meanwhile is neither migrated nor put back by the core, but its
counter died with the zspage).  class->lock nests inside the page lock the core holds (§3
order).  Nothing reads the counter but its own VM_BUG_ON.
"""
from checker import Bug, label
from model import Legacy
from model.migrate import MIGRATEPAGE_SUCCESS


class LegacyIsolatedCounter(Legacy):
    def inc_zspage_isolation(self, zspage):
        yield zspage.obj.access(write=True)
        key = f"{zspage.name}.isolated"
        self.pool.extra[key] = self.pool.extra.get(key, 0) + 1

    def dec_zspage_isolation(self, zspage):
        yield zspage.obj.access(write=True)
        key = f"{zspage.name}.isolated"
        n = self.pool.extra.get(key, 0)
        if n == 0:
            raise Bug(f"dec_zspage_isolation: VM_BUG_ON(zspage->isolated == 0) for {zspage.name}")
        self.pool.extra[key] = n - 1

    def zs_page_isolate(self, page):
        if page.isolated:
            raise Bug(f"zs_page_isolate: VM_BUG_ON_PAGE(PageIsolated({page.name}))")
        zspage = yield from self.get_zspage(page)
        cls = zspage.cls
        yield cls.lock.acquire()
        yield from self.inc_zspage_isolation(zspage)
        yield cls.lock.release()
        return True

    def zs_page_putback(self, page):
        if not page.isolated:
            raise Bug(f"zs_page_putback: VM_BUG_ON_PAGE(!PageIsolated({page.name}))")
        zspage = yield from self.get_zspage(page)
        cls = zspage.cls
        yield cls.lock.acquire()
        yield from self.dec_zspage_isolation(zspage)
        yield cls.lock.release()

    def zs_page_migrate(self, newpage, page):
        yield page.desc.access()
        if not page.isolated:
            raise Bug(f"zs_page_migrate: VM_BUG_ON_PAGE(!PageIsolated({page.name}))")
        yield newpage.desc.access(write=True)
        newpage.zsmalloc = True
        zspage = yield from self.get_zspage(page)
        pool = self.pool
        yield pool.lock.acquire()
        yield label("zs_page_migrate")
        cls = zspage.cls
        yield cls.lock.acquire()
        yield from self.migrate_write_lock(zspage)
        yield from self.copy_page_and_rewrite_handles(newpage, page)
        yield from self.replace_sub_page(cls, zspage, newpage, page)
        yield from self.dec_zspage_isolation(zspage)
        yield pool.lock.release()
        yield cls.lock.release()
        yield from self.migrate_write_unlock(zspage)
        yield from self.zpdesc_get(newpage)
        yield from self.reset_zpdesc(page)
        yield from self.zpdesc_put(page)
        return MIGRATEPAGE_SUCCESS
