"""zs_object_copy: the loop that follows a spanning object into the next page of src and of
dst is replaced by one memcpy of class->size bytes from the first page ("objects are small,
a kmap of each first page is enough").  A spanning object loses its second half when
compaction moves it: the reader later sees a torn object.  A real bug: §2.4 d
(zs_object_copy kmaps both pages of a spanning object)."""
from model import Upstream


class ZsObjectCopyFirstPageOnly(Upstream):
    def zs_object_copy(self, cls, dst_obj, src_obj):
        page, idx = self.obj_to_location(src_obj)
        yield page.obj.access()
        header = page.mem.get(("hdr", idx))
        value = page.mem.get(("data", idx))
        page, idx = self.obj_to_location(dst_obj)
        yield page.obj.access(write=True)
        page.mem[("hdr", idx)] = header
        page.mem[("data", idx)] = value
