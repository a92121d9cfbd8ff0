"""obj_malloc: record_obj(handle, obj) done before the object's header is written
("publish the location first").  NOT a bug: the handle is not yet returned to the caller,
and the movers that read handles (compaction, migration) find objects through their
headers, under class->lock, which zs_malloc holds across both stores (§2.1 step 5: "the
handle is not yet published to anybody")."""
from checker import Bug
from model import Upstream


class ObjMallocRecordBeforeHeader(Upstream):
    def obj_malloc(self, zspage, handle):
        cls = zspage.cls
        yield zspage.obj.access()
        idx = zspage.freeobj
        page = zspage.first
        for _ in range(cls.geometry.location(idx)[0]):
            page = yield from self.get_next_zpdesc(page)
        obj = self.location_to_obj(page, idx)
        yield from self.record_obj(handle, obj)
        yield page.obj.access(write=True)
        link = page.mem.get(("hdr", idx))
        if link is None or link[0] != "free":
            raise Bug(f"obj_malloc: object {idx} of {zspage.name} is not free")
        page.mem[("hdr", idx)] = ("alloc", handle)
        yield zspage.obj.access(write=True)
        zspage.freeobj = link[1]
        zspage.inuse += 1
        return obj
