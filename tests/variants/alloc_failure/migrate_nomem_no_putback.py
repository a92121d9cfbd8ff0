"""The migration core (mm/migrate.c, 6.15-like): when no new page can be had the page is
dropped from the batch as "failed" and the function returns, the author assuming the
caller's putback_movable_pages() sees it -- but the page was already taken off the
caller's list:

    dst = get_new_folio(src, private);
    if (!dst) {
            list_del(&src->lru);                    /* off the caller's list */
            return -ENOMEM;                         /* putback_movable_pages() never sees it */
    }

Decided before running zsmc: a REAL BUG (in the core, through zsmalloc's page).  §2.5:
a page the core isolated goes back through putback_movable_pages (zs_page_putback, clear
PG_isolated, drop the reference) whatever happens to the migration.  Here it stays
isolated with the core's reference: no later isolate takes it (PG_isolated), and its
refcount never drops to the zspage's one, so the page is never freed.  Found by
migrate-nomem (page-reference end check).
"""
from checker import Bug
from model import Upstream
from model.migrate import MIGRATEPAGE_SUCCESS


class MigrateNomemNoPutback(Upstream):
    def migrate_pages(self, page, mode="sync"):
        newpage = yield from self.get_new_folio()
        if newpage is None:
            return None
        ref = yield page.ref.read()
        if ref == 1:        # "Folio was freed from under us. So we are done."
            # A racing isolate_movable_page may still look (under the page lock):
            # so the flag is cleared under it too (unmap_and_move: lock_page,
            # __ClearPageIsolated if no longer movable, unlock_page).
            yield from self.zpdesc_lock(page)
            if not page.movable:
                page.isolated = False
            yield from self.zpdesc_unlock(page)
            yield from self.zpdesc_put(page)
            yield from self.zpdesc_put(newpage)
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

