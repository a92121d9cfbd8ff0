"""mm/migrate.c putback_movable_pages (a movable_ops folio): drop the re-check of
folio_test_movable() under the folio lock ("we isolated it, so it still has its
movable_ops; the else branch is dead"):

    folio_lock(folio);
    putback_movable_folio(folio);       /* was: if (folio_test_movable(folio)) ... else
                                           folio_clear_isolated(folio); */
    folio_unlock(folio);
    folio_put(folio);

Decided before running zsmc: a REAL BUG.  §2.5 and the core's own comment: a movable page "could
be released after isolation".  Isolation holds a page reference, not the page lock (the core
unlocks it after isolating), so zs_free or compaction can free the zspage meanwhile:
free_zspage trylocks every page and __free_zspage resets it (__ClearPageMovable: the
mapping no longer names zsmalloc's movable_operations) and drops zsmalloc's reference
(§2.2 step 7).  An asynchronous migration whose trylock of that page failed (the free held it)
then puts it back: folio_movable_ops() is NULL and mops->putback_page oopses.
"""
from model import Upstream


class CorePutbackSkipsMovableRecheck(Upstream):
    def putback_movable_pages(self, page):
        yield from self.zpdesc_lock(page)
        yield from self.zs_page_putback(page)
        page.isolated = False
        yield from self.zpdesc_unlock(page)
        yield from self.zpdesc_put(page)
