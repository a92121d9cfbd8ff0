"""v5 zs_unmap_object: local_unlock() moved above the copy-back of a spanning object
("the per-CPU lock only protects the mapping; the copy is just a memcpy").  In (b) the
zspage read lock is an atomic counter that does not disable preemption, so between the
unlock and __zs_unmap_object the mapper is preemptible while it still reads the per-CPU
vm_buf: another mapper on the same CPU overwrites vm_buf and the first unmap copies the
wrong bytes back into the pages.  A real bug: hazard 13 (per-CPU area used while
preemptible), §1 b ("the local_lock still does [keep] this API [atomic]"), §2.3 a step 6."""
from checker import label
from model import V5


class V5UnmapLocalUnlockBeforeCopyback(V5):
    def zs_unmap_object(self, handle):
        yield label("zs_unmap_object")
        obj = yield from self.handle_to_obj(handle)
        page, idx = self.obj_to_location(obj)
        zspage = yield from self.get_zspage(page)
        _, _, spans = zspage.cls.geometry.location(idx)
        area = self.pool.map_area[self.cpu]
        yield from self.local_unlock()
        if spans:
            nxt = yield from self.get_next_zpdesc(page)
            yield from self._zs_unmap_object(area, (page, nxt), idx)
        for o in reversed(self.mapped.pop(handle.key, ())):
            yield o.unpin()
        yield from self.zspage_read_unlock(zspage)
