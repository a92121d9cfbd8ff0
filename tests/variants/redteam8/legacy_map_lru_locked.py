"""6.11-6.14 zs_map_object: the read-side LRU hint under class->lock, taken once the zspage
is read-locked (the patch of read_begin_lru_locked.py, on the map API)::

        migrate_read_lock(zspage);
        read_unlock(&pool->migrate_lock);

    +   spin_lock(&class->lock);
    +   list_move(&zspage->list, &class->fullness_list[zspage->fullness]);
    +   spin_unlock(&class->lock);

        local_lock(&zs_map_area.lock);

Verdict from the protocol before running zsmc: a REAL BUG on (a).  There the zspage lock is
an rwlock_t whose writers block (§1 a, §2.4 (a) step c: compaction's migrate_write_lock(src)
spins until mappers leave), and compaction takes it holding class->lock: compaction holds
class->lock and waits for the mapper's read lock, the mapper holds the read lock and spins
on class->lock: an ABBA deadlock (the documented order is class->lock -> zspage->lock, §3;
the same shape as catalogue #4 under (a) semantics).  Legacy, read-compact (two CPUs):
deadlock or lock-order.
"""
from checker import Bug
from model import Legacy
from model.access import Mem


class LegacyMapLruLocked(Legacy):
    def zs_map_object(self, handle, mm):
        zspage, page, idx, pins = yield from self._lookup_and_read_lock(handle, "zs_map_object")
        cls = zspage.cls
        yield cls.lock.acquire()
        yield zspage.obj.access(marked=False)
        fg = zspage.fullness
        yield cls.obj.access(write=True, marked=False)
        lst = cls.fullness_list[fg]
        lst.remove(zspage)
        lst.insert(0, zspage)
        yield cls.lock.release()
        _, _, spans = cls.geometry.location(idx)
        yield from self.local_lock()
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

