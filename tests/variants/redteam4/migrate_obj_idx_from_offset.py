"""zs_page_migrate: the handle rewrite computes obj_idx from the slot's position in the page
(obj_idx = pos / class->size, pos running from first_obj_offset in steps of class->size)
instead of decoding the old handle ("the header walk already knows where the object is; save
the handle_to_obj/obj_to_location round trip").

Decided before running zsmc: a REAL BUG.  §2.5 step 7: "if allocated, rewrite the handle to
(newpage PFN, same idx)" -- idx is the object's index in the *zspage* (obj_to_location of the
old obj), while pos is an offset in *this page*.  The two agree only for the first page of
the chain (its offsets start at 0).  Migrating a later page in which an object starts
(chains of 3+ pages with the default object size, or any class whose objects start in page
1+) records (newpage, wrong idx) in the handle: the handle then names another object slot,
the object's reader, zs_free and compaction use the wrong object (I1: the handle must name
the object; I3), and obj_free frees a slot that is not this object's (double free / lost
object).  The default geometry starts objects only in the first page of a zspage.
"""
from checker import SharedDict
from model import Upstream


class MigrateObjIdxFromOffset(Upstream):
    def copy_page_and_rewrite_handles(self, newpage, page):
        yield page.obj.access()
        yield newpage.obj.access(write=True)
        newpage.mem = SharedDict(page.mem)
        cls = page.zspage.cls
        for idx in page.first_objs:
            hdr = page.mem.get(("hdr", idx))
            if hdr is not None and hdr[0] == "alloc":
                handle = hdr[1]
                pos = cls.geometry.location(idx)[1]
                yield from self.record_obj(handle, self.location_to_obj(newpage, pos // cls.size))
