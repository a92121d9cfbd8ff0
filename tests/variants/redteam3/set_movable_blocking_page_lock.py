"""SetZsPageMovable: `zpdesc_lock()` instead of `zpdesc_trylock()` + WARN ("the pages are
ours, the lock is uncontended anyway").  lock_page may sleep, and SetZsPageMovable runs
under class->lock (a spinlock): sleeping in atomic context, and a page of a zone frame can
be locked by the migration scanner that tests it.  A real bug: §2.1 step 7 ("trylock each
page - WARN if that fails"), §3 (page lock only trylocked inside class->lock)."""
from model import Upstream


class SetMovableBlockingPageLock(Upstream):
    def SetZsPageMovable(self, zspage):
        page = yield from self.get_first_zpdesc(zspage)
        while page is not None:
            yield from self.zpdesc_lock(page)
            yield page.desc.access(write=True)
            page.movable = True
            yield from self.zpdesc_unlock(page)
            page = yield from self.get_next_zpdesc(page)
