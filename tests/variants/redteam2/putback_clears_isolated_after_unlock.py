"""mm core putback_movable_pages: __ClearPageIsolated moved after unlock_page ("the flag
is only ours while the page is isolated").  Written as a bug (another migrator isolating the
page in the gap would have its PG_isolated wiped), it is NOT one: isolate_movable_page
refuses a page whose PG_isolated is still set, so in the gap nobody can isolate it again,
and the late clear only ends our own isolation (§2.5: the callbacks run with the page
locked; zs_page_putback).  Every default scenario passes.  (A dfs cross-check of
migrate-migrate at one CPU did not finish in 240 s: no violation in what it explored.)"""
from model import Upstream


class PutbackClearsIsolatedAfterUnlock(Upstream):
    def putback_movable_pages(self, page):
        yield from self.zpdesc_lock(page)
        if page.movable:
            yield from self.zs_page_putback(page)
        yield from self.zpdesc_unlock(page)
        yield page.desc.access(write=True)
        page.isolated = False
        yield from self.zpdesc_put(page)
