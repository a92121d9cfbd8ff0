"""zs_object_copy copies a spanning object half by half, each page's part into the same
part of the destination (the kernel's loop copies in pieces as it walks both chains).

Verdict from the protocol document: NOT A BUG when source and destination split alike
(§2.4 d: the copy follows both chains); here the destination's pieces are stored exactly
where the same halves of the source were.  The patch copies each half only where both
objects span, and the whole value otherwise (as upstream does).
"""
from checker import Bug
from model import Upstream
from model.access import object_value


class ObjectCopyHalfByHalf(Upstream):
    def zs_object_copy(self, cls, dst_obj, src_obj):
        spage, sidx = self.obj_to_location(src_obj)
        dpage, didx = self.obj_to_location(dst_obj)
        s_spans = cls.geometry.location(sidx)[2]
        d_spans = cls.geometry.location(didx)[2]
        yield spage.obj.access()
        header = spage.mem.get(("hdr", sidx))
        first = spage.mem.get(("data", sidx))
        snxt = None
        if s_spans:
            snxt = yield from self.get_next_zpdesc(spage)
            if snxt is None:
                raise Bug(f"zs_object_copy: {spage.name} has no next page")
            yield snxt.obj.access()
            second = snxt.mem.get(("data", sidx))
        yield dpage.obj.access(write=True)
        dpage.mem[("hdr", didx)] = header
        if s_spans and d_spans:
            dpage.mem[("data", didx)] = first
            dnxt = yield from self.get_next_zpdesc(dpage)
            if dnxt is None:
                raise Bug(f"zs_object_copy: {dpage.name} has no next page")
            yield dnxt.obj.access(write=True)
            dnxt.mem[("data", didx)] = second
            return
        value = object_value((first, second)) if s_spans else first
        dpage.mem[("data", didx)] = value
        if d_spans:
            dnxt = yield from self.get_next_zpdesc(dpage)
            if dnxt is None:
                raise Bug(f"zs_object_copy: {dpage.name} has no next page")
            yield dnxt.obj.access(write=True)
            dnxt.mem[("data", didx)] = value
