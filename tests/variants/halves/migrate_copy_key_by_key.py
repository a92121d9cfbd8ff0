"""copy_page as a loop over the old page's contents (a patch's ``copy_highpage`` spelled out):
every word of the old page stored at the same place in the new page.

Verdict from the protocol document: NOT A BUG.  §2.5 step 6: the new page takes the old
page's place in the chain, so the same bytes at the same offsets are the same halves.
"""
from model import Upstream


class MigrateCopyKeyByKey(Upstream):
    def copy_page_and_rewrite_handles(self, newpage, page):
        yield page.obj.access()
        yield newpage.obj.access(write=True)
        for k, v in page.mem.items():
            newpage.mem[k] = v
        for idx in page.first_objs:
            hdr = page.mem.get(("hdr", idx))
            if hdr is not None and hdr[0] == "alloc":
                handle = hdr[1]
                old = yield from self.handle_to_obj(handle)
                old_idx = self.obj_to_location(old)[1] if old else idx
                yield from self.record_obj(handle, self.location_to_obj(newpage, old_idx))
