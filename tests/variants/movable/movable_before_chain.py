"""alloc_zspage marks each page movable as soon as it has it ("it is ours, nobody else can
see it yet"), before create_page_chain and init_zspage: SetZsPageMovable done before the
zspage is built (zsmalloc-protocol.md §2.1 steps 6-7).  A frame is visible to the
migration scanner as soon as it is allocated: once it is movable, isolate_movable_page takes
it and zs_page_migrate reads a zspage pointer that is not set yet (or SetZsPageMovable's own
trylock later meets the scanner's page lock and WARNs).  Only a scanner aimed at the frames
zs_malloc takes (scenario malloc-migrate) can see it."""
from model import Upstream


class MovableBeforeChain(Upstream):
    def alloc_zpdesc(self, zone):
        page = yield from super().alloc_zpdesc(zone)
        if (yield from self.zpdesc_trylock(page)):
            yield page.desc.access(write=True)
            page.movable = True
            yield from self.zpdesc_unlock(page)
        return page
