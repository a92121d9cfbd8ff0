"""v5 zs_unmap_object: `zspage_read_unlock()` moved before `local_unlock()` (after the
copy-back of a spanning object).  The object is no longer used once copied back, and the
per-CPU area stays ours until local_unlock: the release order of two locks that are not
nested in each other's way changes nothing (v5's read unlock never waits).  Not a bug
(§2.3 a step 6, bug 13's invariant holds)."""
from checker import Bug, label
from model import V5


class V5UnmapReadUnlockBeforeLocalUnlock(V5):
    def zs_unmap_object(self, handle):
        yield label("zs_unmap_object")
        obj = yield from self.handle_to_obj(handle)
        if not obj:
            raise Bug(f"zs_unmap_object: handle {handle.key} holds no location")
        page, idx = self.obj_to_location(obj)
        zspage = yield from self.get_zspage(page)
        _, _, spans = zspage.cls.geometry.location(idx)
        area = self.pool.map_area[self.cpu]
        if spans:
            nxt = yield from self.get_next_zpdesc(page)
            if nxt is None:
                raise Bug(f"zs_unmap_object: BUG_ON(!zpdescs[1]) for {page.name}")
            yield from self._zs_unmap_object(area, (page, nxt), idx)
        for o in reversed(self.mapped.pop(handle.key, ())):
            yield o.unpin()
        yield from self.zspage_read_unlock(zspage)
        yield from self.local_unlock()
