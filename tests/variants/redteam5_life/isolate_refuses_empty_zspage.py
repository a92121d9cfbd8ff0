"""zs_page_isolate: refuse pages of an empty zspage ("it is waiting for the deferred free;
isolating it only makes lock_zspage sleep on a page the core holds"):

    static bool zs_page_isolate(struct page *page, isolate_mode_t mode)
    {
            struct zspage *zspage = get_zspage(page_zpdesc(page));
            VM_BUG_ON_PAGE(PageIsolated(page), page);
            return READ_ONCE(zspage->inuse) != 0;
    }

Decided before running zsmc: NOT A BUG.  §2.5: zs_page_isolate runs with the page locked,
which keeps the zspage alive ("the locked page guarantees the zspage cannot be destroyed");
inuse is read without class->lock, a READ_ONCE of a hint: a stale value either refuses a
zspage that was just reused (migration is only retried later) or isolates an empty one
(exactly as before).  A refusal changes no zsmalloc state; the core unlocks and puts the page
(§2.5, isolate_movable_page).
"""
from checker import Bug
from model import Upstream


class IsolateRefusesEmptyZspage(Upstream):
    def zs_page_isolate(self, page):
        zspage = yield from self.get_zspage(page)
        if page.isolated:
            raise Bug(f"zs_page_isolate: VM_BUG_ON_PAGE(PageIsolated({page.name}))")
        return zspage.inuse != 0
