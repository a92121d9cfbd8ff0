"""replace_sub_page with a fast path for one-page zspages that does what create_page_chain
does for a chain of one page: the zspage's first page, the page's zspage, no next page, the
first-page flag, then the offset and the movable flag as replace_sub_page does.

Verdict from the protocol document: NOT A BUG (§2.5 step 8: the same writes, under the same
locks, as create_page_chain on one page).
"""
from model import Upstream


class ReplaceSubPageSingleRebuilt(Upstream):
    def replace_sub_page(self, cls, zspage, newpage, oldpage):
        if cls.pages_per_zspage == 1:
            yield newpage.chain.access(write=True)
            newpage.zspage = zspage
            newpage.next = None
            newpage.first = True
            yield zspage.obj.access(write=True)
            zspage.first = newpage
            yield newpage.desc.access(write=True)
            newpage.first_objs = oldpage.first_objs
            newpage.movable = True
            return
        yield from Upstream.replace_sub_page(self, cls, zspage, newpage, oldpage)
