"""zs_page_isolate (6.15) refuses pages of an empty zspage again, as before 5.17, but without
the class lock 5.x took for it ("the page lock keeps the zspage; a stale answer only makes
isolation fail")::

    static bool zs_page_isolate(struct page *page, isolate_mode_t mode)
    {
        struct zspage *zspage = get_zspage(page_zpdesc(page));

        VM_BUG_ON_PAGE(PageIsolated(page), page);
        if (!get_zspage_inuse(zspage))      /* new: no class->lock */
            return false;
        return true;
    }

``zspage->inuse`` is written under ``class->lock`` by ``obj_malloc``/``obj_free`` (§1 a,
§2.2 step 6); before 5.17 this test ran under that lock (§2.5 a).  Refusing is harmless,
but the plain load races with ``zs_free``'s locked decrement.  Verdict: a data race KCSAN
reports, benign in effect.
"""
from checker import Bug
from model import Upstream
from model.migrate import movable_ops


class IsolateRefuseEmptyUnlocked(Upstream):
    def zs_page_isolate(self, page):
        movable_ops(page, "isolate_page")
        if page.isolated:
            raise Bug(f"zs_page_isolate: VM_BUG_ON_PAGE(PageIsolated({page.name}))")
        zspage = yield from self.get_zspage(page)
        return bool(zspage.inuse)
