"""6.11-6.14 (a) zs_unmap_object: local_unlock moved before the copy-back of a spanning
object ("the per-CPU area lock only protects the mapping; unlock it first to shorten the
preempt-off section")::

    local_unlock(&zs_map_area.lock);
    if (off + class->size > PAGE_SIZE) __zs_unmap_object(area, zpdescs, off, class->size);
    migrate_read_unlock(zspage);

!PREEMPT_RT: the task still holds migrate_read_lock, an rwlock_t, so it stays atomic until
the copy-back is done: no other task of the CPU can map meanwhile, and mapping from IRQ is
BUG_ON'd.  Not a bug (fragile).  PREEMPT_RT: the rwlock and local_lock are sleeping locks;
after local_unlock the task can be preempted and another task of the CPU maps a spanning
object into the same per-CPU vm_buf, so the first copies the other's bytes back (hazard 13).
Verdict: not a bug on !RT, a real bug on RT.
"""
from checker import Bug, label
from model import Legacy


class LegacyUnmapLocalUnlockFirst(Legacy):
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
