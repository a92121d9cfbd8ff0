"""replace_sub_page splicing newpage in place of oldpage instead of rebuilding the whole chain
with create_page_chain ("only the neighbours' links change"): if oldpage is the first page,
newpage takes over ->next and zspage->first_zpdesc; otherwise the predecessor's ->next is
pointed at newpage -- and newpage->next is left as the page allocator gave it (NULL).

Decided before running zsmc: a REAL BUG.  §2.5 step 8: replace_sub_page must "rebuild the
chain with newpage in place of page" (create_page_chain rewrites every element's
zspage/next).  Migrating a *middle* page of a chain of 3+ pages truncates the chain after
newpage: the later pages drop out of the zspage.  A spanning object that continues into
them has no next page (zs_obj_read_begin/zs_obj_write/zs_object_copy), trylock_zspage /
lock_zspage / __free_zspage no longer lock, reset or put them (I4: "all of Z's page locks
held"; leaked pages), and the lost pages keep pointing at the zspage (bug #2/#23 family).
For the last page of a chain, NULL is the right ->next, so only chains of 3+ pages show it.
"""
from model import Upstream


class ReplaceSubPageSpliceNoNext(Upstream):
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
        if i == 0:
            newpage.next = pages[1] if len(pages) > 1 else None
            yield zspage.obj.access(write=True)
            zspage.first = newpage
        else:
            yield pages[i - 1].chain.access(write=True)
            pages[i - 1].next = newpage
        yield newpage.desc.access(write=True)
        newpage.first_objs = oldpage.first_objs
        newpage.movable = True
