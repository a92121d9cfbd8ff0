"""zs_page_migrate: the handle-rewrite loop walks every object that *touches* the old page
("a spanning object's tail moves with the page too"), not only those that start in it
(first_obj_offset, stepping class->size).  The object that starts in the previous page and
spans into this one gets its handle rewritten to (newpage, idx): its location now names a
page it does not start in, and the next lookup reads the header of a slot that is not
there.  A real bug: only objects starting in the page are relocated; a spanning object's
location is its first page's (§2.5 step 7, Terminology "obj = (PFN of the page the object
starts in, obj_idx)")."""
from checker import SharedDict
from model import Upstream


class MigrateRewritesSpanningIntoPage(Upstream):
    def copy_page_and_rewrite_handles(self, newpage, page):
        yield page.obj.access()
        yield newpage.obj.access(write=True)
        newpage.mem = SharedDict(page.mem)
        zspage = page.zspage
        g = zspage.cls.geometry
        pages = zspage.pages()
        no = pages.index(page)
        touching = [i for i in range(g.objs_per_zspage)
                    if g.location(i)[0] == no or (g.location(i)[2] and g.location(i)[0] + 1 == no)]
        for idx in touching:
            owner = pages[g.location(idx)[0]]
            hdr = owner.mem.get(("hdr", idx))
            if hdr is not None and hdr[0] == "alloc":
                yield from self.record_obj(hdr[1], self.location_to_obj(newpage, idx))
