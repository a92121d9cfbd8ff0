"""6.15 zs_obj_write: for a spanning object the second page is written before the first
(the two memcpy_to_page calls swapped).  Both run under the zspage read lock, which keeps the
chain and the pages in place, and the caller serialises writers and readers of one object
(zram's slot lock): not a bug (§2.3 c zs_obj_write note)."""
from checker import Bug
from model import Upstream


class ObjWriteSecondHalfFirst(Upstream):
    def zs_obj_write(self, handle, value):
        zspage, page, idx, pins = yield from self._lookup_and_read_lock(handle, "zs_obj_write")
        _, _, spans = zspage.cls.geometry.location(idx)
        if spans:
            nxt = yield from self.get_next_zpdesc(page)
            if nxt is None:
                raise Bug(f"zs_obj_write: {page.name} has no next page for a spanning object")
            yield nxt.obj.access(write=True)
            nxt.mem[("data", idx)] = value
        yield page.obj.access(write=True)
        page.mem[("data", idx)] = value
        for o in reversed(pins):
            yield o.unpin()
        yield from self.zspage_read_unlock(zspage)
