"""legacy zs_unmap_object: local_unlock() moved above the copy-back of a spanning object
("the per-CPU lock only protects the mapping; the copy is just a memcpy").  NOT a bug on
!PREEMPT_RT, against expectation: in (a) the zspage lock is an rwlock_t, still read-held
during the copy-back, so the mapper stays atomic after local_unlock and nothing else can run
on its CPU to reuse vm_buf (§1 a: "a mapped object pins the caller in atomic context
(zspage rwlock read + local_lock)").  A real bug on PREEMPT_RT, where rwlock_t and
local_lock sleep: the mapper is preemptible between local_unlock and the copy-back, a second
mapper on the CPU overwrites vm_buf (hazard 13, §2.3 a step 6); zsmc check --config rt
finds it on up-clients.  The same patch on v5, whose zspage lock is not atomic, is a bug in
every configuration (v5_unmap_local_unlock_before_copyback)."""
from checker import label
from model import Legacy


class LegacyUnmapLocalUnlockBeforeCopyback(Legacy):
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
