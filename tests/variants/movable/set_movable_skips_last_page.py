"""SetZsPageMovable stops at the last page of the chain (an off-by-one in its walk:
``while (zpdesc->next)``), so the last page of every new zspage is never movable and the mm
can never migrate or compact it (zsmalloc-protocol.md §2.1 step 7).  Seen at the end of any
execution that builds a zspage: malloc-migrate (and malloc-free)."""
from model import Upstream


class SetMovableSkipsLastPage(Upstream):
    def SetZsPageMovable(self, zspage):
        page = yield from self.get_first_zpdesc(zspage)
        while page is not None:
            nxt = yield from self.get_next_zpdesc(page)
            if nxt is None:
                break
            if not (yield from self.zpdesc_trylock(page)):
                raise AssertionError(f"SetZsPageMovable: WARN_ON(!zpdesc_trylock({page.name}))")
            yield page.desc.access(write=True)
            page.movable = True
            yield from self.zpdesc_unlock(page)
            page = nxt
