"""zs_page_migrate: the handle-rewrite loop returns after the first allocated object of the
page ("a page starts with at most one object in the common classes") -- but a page can start
several objects (the default class starts two in its first page).  The other objects'
handles keep pointing at the old page, which is reset and freed at the end of the
migration: their readers and zs_free then use a freed page.  A real bug: §2.5 step 7 ("for
every object slot starting in the old page ... rewrite the handle"), I1/I3."""
from checker import SharedDict
from model import Upstream


class MigrateRewritesFirstObjectOnly(Upstream):
    def copy_page_and_rewrite_handles(self, newpage, page):
        yield page.obj.access()
        yield newpage.obj.access(write=True)
        newpage.mem = SharedDict(page.mem)
        for idx in page.first_objs:
            hdr = page.mem.get(("hdr", idx))
            if hdr is not None and hdr[0] == "alloc":
                handle = hdr[1]
                old = yield from self.handle_to_obj(handle)
                old_idx = self.obj_to_location(old)[1] if old else idx
                yield from self.record_obj(handle, self.location_to_obj(newpage, old_idx))
                return
