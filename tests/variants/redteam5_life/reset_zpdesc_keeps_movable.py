"""reset_zpdesc: drop __ClearPageMovable ("the page goes back to the buddy allocator, which
clears page->mapping in free_pages_prepare anyway"):

    static inline void reset_zpdesc(struct zpdesc *zpdesc)
    {
            ClearPagePrivate(page);
            zpdesc->zspage = NULL;
            zpdesc->next = NULL;
            __ClearPageZsmalloc(page);
    }

Decided before running zsmc: a REAL BUG.  §2.2 step 7 (reset "clear movable") and §2.5: the
migration core may hold an isolation reference on the page while the zspage is freed; its
test "no longer movable: released after isolation" (folio_test_movable under the page lock)
is what keeps it from calling zs_page_migrate on a page whose zspage is gone: with the flag
left, zs_page_migrate dereferences zpdesc->zspage == NULL.  And the page may be freed
still marked movable (Bad page state).
"""
from model import Upstream


class ResetZpdescKeepsMovable(Upstream):
    def reset_zpdesc(self, page):
        yield page.desc.access(write=True)
        page.zspage = None
        page.next = None
        page.first = False
        page.zsmalloc = False
