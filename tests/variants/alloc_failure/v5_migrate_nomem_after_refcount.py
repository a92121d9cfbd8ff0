"""The migration core in 6.15's order (migrate_folio_unmap): test for a page freed from
under the core first, and only then allocate the new page; no new page: -ENOMEM, and the
page goes back (putback_movable_pages):

    if (folio_ref_count(src) == 1) {
            /* Folio was freed from under us. So we are done. */
            ...
            return MIGRATEPAGE_SUCCESS;
    }
    dst = get_new_folio(src, private);
    if (!dst)
            return -ENOMEM;                 /* left on the list: the caller puts it back */

Decided before running zsmc: NOT A BUG.  §2.5: the model allocated before the refcount
test; the kernel's order only saves an allocation for a page that was freed.  Both ways
an isolated page goes back through putback_movable_pages when there is no new page, and
a freed one is done.  Expected: passes, its changed lines run (migrate-nomem, and the
default scenarios with migration).
"""
from checker import Bug
from model import V5
from model.migrate import MIGRATEPAGE_SUCCESS


class V5MigrateNomemAfterRefcount(V5):
    def migrate_pages(self, page, mode="sync"):
        ref = yield page.ref.read()
        if ref == 1:        # "Folio was freed from under us. So we are done."
            yield from self.zpdesc_lock(page)
            if not page.movable:
                page.isolated = False
            yield from self.zpdesc_unlock(page)
            yield from self.zpdesc_put(page)
            return None
        newpage = yield from self.get_new_folio()
        if newpage is None:
            yield from self.putback_movable_pages(page)
            return None
        if mode == "sync":
            yield from self.zpdesc_lock(page)
        elif not (yield from self.zpdesc_trylock(page)):
            yield from self.zpdesc_put(newpage)
            yield from self.putback_movable_pages(page)
            return None
        if not (yield from self.zpdesc_trylock(newpage)):
            raise Bug(f"migrate_pages: the new page {newpage.name} is locked by someone")
        moved = False
        if not page.movable:       # released after isolation: nothing to migrate
            rc = MIGRATEPAGE_SUCCESS
        else:
            rc = yield from self.zs_page_migrate(newpage, page)
            moved = rc == MIGRATEPAGE_SUCCESS
        if rc == MIGRATEPAGE_SUCCESS:
            page.isolated = False       # folio_clear_isolated, under the page lock
        yield from self.zpdesc_unlock(newpage)
        yield from self.zpdesc_unlock(page)
        if rc == MIGRATEPAGE_SUCCESS:
            yield from self.zpdesc_put(page)
            yield from self.zpdesc_put(newpage)
            return newpage if moved else None
        yield from self.zpdesc_put(newpage)
        yield from self.putback_movable_pages(page)
        return None

