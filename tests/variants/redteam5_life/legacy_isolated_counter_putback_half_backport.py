"""legacy_isolated_counter, as a stable backport of 4b5d1e47b694 that missed one hunk:
zs_page_isolate and zs_page_migrate update zspage->isolated under class->lock, but
zs_page_putback keeps the pre-fix locking, the zspage write lock only:

    static void zs_page_putback(struct page *page)
    {
            zspage = get_zspage(page);
            migrate_write_lock(zspage);
            dec_zspage_isolation(zspage);
            migrate_write_unlock(zspage);
    }

Decided before running zsmc: a REAL BUG.  Bug 5's invariant: the counter must be written
under one lock.  zs_page_isolate of another page of the same zspage holds class->lock, not
the zspage lock (§2.5: the core isolates each page under that page's lock only), so its
isolated++ and this isolated-- are unsynchronised read-modify-writes of one field: a lost
update, then VM_BUG_ON(isolated == 0) or a count that never returns to zero.  (With a
separate field the fullness bits are safe; the counter itself is not.)  Needs two migrations
of pages of one zspage, one of which puts its page back.
"""
from checker import Bug
from legacy_isolated_counter import LegacyIsolatedCounter


class LegacyIsolatedCounterPutbackHalfBackport(LegacyIsolatedCounter):
    def zs_page_putback(self, page):
        if not page.isolated:
            raise Bug(f"zs_page_putback: VM_BUG_ON_PAGE(!PageIsolated({page.name}))")
        zspage = yield from self.get_zspage(page)
        yield from self.migrate_write_lock(zspage)
        yield from self.dec_zspage_isolation(zspage)
        yield from self.migrate_write_unlock(zspage)
