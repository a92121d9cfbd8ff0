"""replace_sub_page: the __zpdesc_set_movable(newzpdesc) dropped ("the migration core keeps
the movable state of the page it migrated") -- the new page of the chain is never movable
again, so the mm can no longer migrate or compact it (§2.5 step 8)."""
from model import Upstream


class MigrateNewpageNotMovable(Upstream):
    def replace_sub_page(self, cls, zspage, newpage, oldpage):
        pages = []
        page = yield from self.get_first_zpdesc(zspage)
        while page is not None:
            pages.append(newpage if page is oldpage else page)
            page = yield from self.get_next_zpdesc(page)
        yield from self.create_page_chain(cls, zspage, pages)
        yield newpage.desc.access(write=True)
        newpage.first_objs = oldpage.first_objs
