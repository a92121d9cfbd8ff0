"""zs_object_copy takes the source's second half from the source's first page: a rewrite of
the copy loop that advances ``d_zpdesc`` but forgets ``s_zpdesc = get_next_zpdesc(s_zpdesc)``.

Verdict from the protocol document: REAL BUG.  §2.4 d: the copy follows each chain where the
object spans; the destination gets the first half twice, and the object is corrupted by
compaction.
"""
from checker import Bug
from model import Upstream
from model.access import object_value


class ObjectCopyTailFromFirstPage(Upstream):
    def zs_object_copy(self, cls, dst_obj, src_obj):
        parts = []
        page, idx = self.obj_to_location(src_obj)
        spans = cls.geometry.location(idx)[2]
        yield page.obj.access()
        header = page.mem.get(("hdr", idx))
        parts.append(page.mem.get(("data", idx)))
        if spans:
            nxt = yield from self.get_next_zpdesc(page)
            if nxt is None:
                raise Bug(f"zs_object_copy: {page.name} has no next page")
            yield page.obj.access()
            parts.append(page.mem.get(("data", idx)))
        value = object_value(parts)
        page, idx = self.obj_to_location(dst_obj)
        spans = cls.geometry.location(idx)[2]
        yield page.obj.access(write=True)
        page.mem[("hdr", idx)] = header
        page.mem[("data", idx)] = value
        if spans:
            nxt = yield from self.get_next_zpdesc(page)
            if nxt is None:
                raise Bug(f"zs_object_copy: {page.name} has no next page")
            yield nxt.obj.access(write=True)
            nxt.mem[("data", idx)] = value
