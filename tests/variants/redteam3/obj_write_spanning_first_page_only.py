"""6.15 zs_obj_write: the spanning case computes the first part's size as the whole length
("sizes = min(len, PAGE_SIZE - off)" mistyped as len) and copies only into the first page:
the second half of a spanning object keeps its old bytes.  A later read returns a torn
object.  A real bug (§2.3 c zs_obj_write step 2: two memcpy_to_page for a spanning object;
cf. the post-merge zs_obj_write size fix in §4)."""
from model import Upstream


class ObjWriteSpanningFirstPageOnly(Upstream):
    def zs_obj_write(self, handle, value):
        zspage, page, idx, pins = yield from self._lookup_and_read_lock(handle, "zs_obj_write")
        yield page.obj.access(write=True)
        page.mem[("data", idx)] = value
        for o in reversed(pins):
            yield o.unpin()
        yield from self.zspage_read_unlock(zspage)
