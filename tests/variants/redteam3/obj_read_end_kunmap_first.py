"""6.15 zs_obj_read_end: the `kunmap_local` is done first, from the returned pointer
(PTR_ALIGN_DOWN(handle_mem, PAGE_SIZE)), then the location is re-derived for the zspage and
ZRU follows.  Everything still happens under the zspage read lock, which keeps the handle
and the page stable: not a bug (§2.3 c read_end step 1: "safe because the held zspage read
lock blocks both migration and compaction")."""
from checker import Bug
from model import Upstream


class ObjReadEndKunmapFirst(Upstream):
    def zs_obj_read_end(self, handle, mem):
        pins = self.mapped.pop(handle.key, ())
        for o in reversed(pins):
            yield o.unpin()
        obj = yield from self.handle_to_obj(handle)
        if not obj:
            raise Bug(f"zs_obj_read_end: handle {handle.key} holds no location")
        zspage = yield from self.get_zspage(self.obj_to_zpdesc(obj))
        yield from self.zspage_read_unlock(zspage)
