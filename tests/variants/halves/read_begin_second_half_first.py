"""zs_obj_read_begin copies the second half first (the two memcpy_from_page calls swapped,
each into its own place in the buffer).

Verdict from the protocol document: NOT A BUG.  §2.3 c step 4: both copies run under the
zspage read lock, which keeps the chain and both pages in place; the order of the two
copies into the caller's buffer does not matter.
"""
from checker import Bug
from model import Upstream
from model.access import Mem, object_value


class ReadBeginSecondHalfFirst(Upstream):
    def zs_obj_read_begin(self, handle):
        zspage, page, idx, pins = yield from self._lookup_and_read_lock(handle, "zs_obj_read_begin")
        _, _, spans = zspage.cls.geometry.location(idx)
        if not spans:
            mem = Mem("page", page, idx)
        else:
            nxt = yield from self.get_next_zpdesc(page)
            if nxt is None:
                raise Bug(f"zs_obj_read_begin: {page.name} has no next page for a spanning object")
            yield nxt.obj.access()
            second = nxt.mem.get(("data", idx))
            yield page.obj.access()
            mem = Mem("copy", value=object_value((page.mem.get(("data", idx)), second)))
        self.mapped[handle.key] = pins
        return mem
