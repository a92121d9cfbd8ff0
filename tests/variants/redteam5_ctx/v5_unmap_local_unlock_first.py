"""v5 (b) zs_unmap_object: local_unlock moved before the copy-back of a spanning
object ("the per-CPU area lock only protects the mapping; unlock it first to shorten the
preempt-off section")::

    local_unlock(&zs_map_area.lock);
    if (off + class->size > PAGE_SIZE) __zs_unmap_object(area, zpdescs, off, class->size);
    migrate_read_unlock(zspage);

In (b) the zspage read lock is an atomic counter that does not disable preemption, so
after local_unlock the task is preemptible on !PREEMPT_RT as well: another task of the CPU
maps a spanning object into the same per-CPU vm_buf and the first copies the other's bytes
back (hazard 13).  Verdict: a real bug (both configurations).
"""
from checker import Bug, label
from model import V5


class V5UnmapLocalUnlockFirst(V5):
    def zs_unmap_object(self, handle):
        yield label("zs_unmap_object")
        obj = yield from self.handle_to_obj(handle)
        if not obj:
            raise Bug(f"zs_unmap_object: handle {handle.key} holds no location")
        page, idx = self.obj_to_location(obj)
        zspage = yield from self.get_zspage(page)
        _, _, spans = zspage.cls.geometry.location(idx)
        area = self.pool.map_area[self.cpu]
        yield from self.local_unlock()
        if spans:
            nxt = yield from self.get_next_zpdesc(page)
            if nxt is None:
                raise Bug(f"zs_unmap_object: BUG_ON(!zpdescs[1]) for {page.name}")
            yield from self._zs_unmap_object(area, (page, nxt), idx)
        for o in reversed(self.mapped.pop(handle.key, ())):
            yield o.unpin()
        yield from self.zspage_read_unlock(zspage)
