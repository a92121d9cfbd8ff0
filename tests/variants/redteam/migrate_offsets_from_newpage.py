"""zs_page_migrate: the handle-rewrite loop walks the objects starting in *newpage*
(get_first_obj_offset(newpage)) -- a different field read: newpage's offset is only set by
replace_sub_page, later (§2.5 steps 7-8)."""
from checker import SharedDict
from model import Upstream


class MigrateOffsetsFromNewpage(Upstream):
    def copy_page_and_rewrite_handles(self, newpage, page):
        yield page.obj.access()
        yield newpage.obj.access(write=True)
        newpage.mem = SharedDict(page.mem)
        for idx in newpage.first_objs:
            hdr = page.mem.get(("hdr", idx))
            if hdr is not None and hdr[0] == "alloc":
                handle = hdr[1]
                yield from self.record_obj(handle, self.location_to_obj(newpage, idx))
