"""replace_sub_page splicing newpage in place of oldpage instead of rebuilding the whole chain
with create_page_chain ("only the neighbours' links change"), done right: newpage takes
oldpage's ->next, its zspage pointer and first-page mark; the predecessor's ->next (or
zspage->first_zpdesc for the first page) is pointed at newpage.

Decided before running zsmc: NOT A BUG.  §2.5 step 8 asks for the chain with newpage in
place of page; the other pages' zspage/next/first fields already hold exactly what
create_page_chain would write again.  Every write is under W(pool) + S(class) + ZWT (the
chain may only be walked under class->lock, pool->lock W or a zspage read lock, hazard 24),
as in the base.  The result is the same chain, for any page of any chain length.
"""
from model import Upstream


class ReplaceSubPageSplice(Upstream):
    def replace_sub_page(self, cls, zspage, newpage, oldpage):
        pages = []
        page = yield from self.get_first_zpdesc(zspage)
        while page is not None:
            pages.append(newpage if page is oldpage else page)
            page = yield from self.get_next_zpdesc(page)
        i = pages.index(newpage)
        yield newpage.chain.access(write=True)
        newpage.zspage = zspage
        newpage.first = i == 0
        newpage.next = pages[i + 1] if i + 1 < len(pages) else None
        if i == 0:
            yield zspage.obj.access(write=True)
            zspage.first = newpage
        else:
            yield pages[i - 1].chain.access(write=True)
            pages[i - 1].next = newpage
        yield newpage.desc.access(write=True)
        newpage.first_objs = oldpage.first_objs
        newpage.movable = True
