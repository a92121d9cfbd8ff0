"""6.15 zs_obj_read_end: `zspage_read_unlock(zspage)` moved right after get_zspage, before
the `kunmap_local` of an in-page mapping ("unlock as soon as we know the zspage").  Between
the unlock and the kunmap the page is no longer pinned by the read lock: migration replaces
and frees it, compaction moves the object out, and the kunmap (and any late use of the
mapping) touches a freed page.  A real bug: §2.3 (c) read_end steps 2-3, hazard 19."""
from checker import Bug
from model import Upstream


class ObjReadEndUnlockBeforeKunmap(Upstream):
    def zs_obj_read_end(self, handle, mem):
        obj = yield from self.handle_to_obj(handle)
        if not obj:
            raise Bug(f"zs_obj_read_end: handle {handle.key} holds no location")
        zspage = yield from self.get_zspage(self.obj_to_zpdesc(obj))
        yield from self.zspage_read_unlock(zspage)
        for o in reversed(self.mapped.pop(handle.key, ())):
            yield o.unpin()
