"""6.11-6.14 (a) zs_map_object takes the per-CPU area's local_lock before the handle lookup
("pin the CPU first, then look the object up")::

    local_lock(&zs_map_area.lock);
    read_lock(&pool->migrate_lock); ... migrate_read_lock(zspage); read_unlock(&pool->migrate_lock);

!PREEMPT_RT: local_lock is preempt_disable, and the rwlocks spin: the same atomic section,
one step longer.  PREEMPT_RT: local_lock is a per-CPU sleeping lock and both rwlocks are
sleeping locks; nothing takes the local lock while holding either (writers never map), so
the new order zs_map_area.lock -> pool->migrate_lock -> zspage->lock closes no cycle, and no
lock is taken inside an explicit preempt_disable.  Verdict: not a bug (either
configuration).
"""
from checker import Bug
from model import Legacy
from model.access import Mem


class LegacyMapLocalLockFirst(Legacy):
    def zs_map_object(self, handle, mm):
        yield from self.local_lock()
        zspage, page, idx, pins = yield from self._lookup_and_read_lock(handle, "zs_map_object")
        _, _, spans = zspage.cls.geometry.location(idx)
        area = self.pool.map_area[self.cpu]
        yield area.vm_mm.write(mm)
        self.mapped[handle.key] = pins
        if not spans:
            return Mem("page", page, idx)
        nxt = yield from self.get_next_zpdesc(page)
        if nxt is None:
            raise Bug(f"zs_map_object: BUG_ON(!zpdescs[1]) for {page.name}")
        yield from self._zs_map_object(area, (page, nxt), idx)
        return Mem("area", area=area)
