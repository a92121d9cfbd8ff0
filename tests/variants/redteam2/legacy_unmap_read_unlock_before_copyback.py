"""legacy zs_unmap_object: migrate_read_unlock(zspage) done first ("drop the zspage lock as
early as possible, we still hold the per-CPU lock"), then the copy of vm_buf back into the
two pages of a spanning object.  Once the read lock is dropped a compactor on another CPU
can take migrate_write_lock, move the object and free its zspage: the copy-back writes into
pages the object no longer lives in (or freed pages).  A real bug: I3 (a reader holds a
stable location until ZRU), hazard 19 for the map API; protocol §2.3 a step 6."""
from checker import label
from model import Legacy


class LegacyUnmapReadUnlockBeforeCopyback(Legacy):
    def zs_unmap_object(self, handle):
        yield label("zs_unmap_object")
        obj = yield from self.handle_to_obj(handle)
        page, idx = self.obj_to_location(obj)
        zspage = yield from self.get_zspage(page)
        _, _, spans = zspage.cls.geometry.location(idx)
        area = self.pool.map_area[self.cpu]
        pins = self.mapped.pop(handle.key, ())
        for o in reversed(pins):
            yield o.unpin()
        yield from self.zspage_read_unlock(zspage)
        if spans:
            nxt = yield from self.get_next_zpdesc(page)
            yield from self._zs_unmap_object(area, (page, nxt), idx)
        yield from self.local_unlock()
