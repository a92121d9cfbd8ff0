"""create_page_chain clears each descriptor before relinking it ("start from a clean
zpdesc, as reset_zpdesc leaves it")::

    for (i = 0; i < nr_zpdescs; i++) {
        zpdesc = zpdescs[i];
        zpdesc->zspage = NULL;              /* new */
        zpdesc->next = NULL;
        zpdesc->zspage = zspage;
        ...

Another migration of a page of the same zspage reads ``zpdesc->zspage`` with only its
page locked, before any zsmalloc lock (``zs_page_migrate`` step 1, §2.5: "valid because
page locked"); the rewrite runs under ``W(pool)`` and the zspage write lock, which that
read does not take.  Upstream's store is of the value already there, a race KCSAN's
default configuration does not report (docs/design.md); this one stores NULL first, and a
reader that sees it dereferences NULL in ``get_zspage``.  Verdict: a real bug.
"""
from model import Upstream


class MigrateChainClearsZspageFirst(Upstream):
    def create_page_chain(self, cls, zspage, pages):
        for i, page in enumerate(pages):
            yield page.chain.access(write=True, marked=False)
            page.zspage = None
            page.next = None
            page.zspage = zspage
            page.next = pages[i + 1] if i + 1 < len(pages) else None
            page.first = i == 0
        yield zspage.obj.access(write=True, marked=False)
        zspage.first = pages[0]
