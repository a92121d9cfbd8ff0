"""6.11-6.14 (a) zs_unmap_object re-derives the location under read_lock(&pool->migrate_lock)
("be as careful as zs_map_object: never read the handle without the pool lock")::

    read_lock(&pool->migrate_lock);                 /* added */
    obj = handle_to_obj(handle);
    obj_to_location(obj, &zpdesc, &obj_idx);
    zspage = get_zspage(zpdesc);
    read_unlock(&pool->migrate_lock);               /* added */
    ... copy back, local_unlock, migrate_read_unlock(zspage);

Verdict from the protocol before running zsmc: a REAL BUG (a deadlock).  §3 lock order:
migrate_lock -> class->lock -> zspage->lock.  The unmapper holds zspage->lock (R, an rwlock_t)
and now waits for migrate_lock (R); zs_page_migrate and __zs_compact hold migrate_lock (W) and
wait, *blocking* in (a), for zspage->lock (W) (§2.5 (a) step 4, §2.4 (a) step c) until the
mapper leaves: ABBA, on two CPUs.  (§2.3 c step 1 of read_end: the re-derivation is safe
without the pool lock precisely because the read lock is held.)
"""
from checker import Bug, label
from model import Legacy


class LegacyUnmapLookupUnderPoolLock(Legacy):
    def zs_unmap_object(self, handle):
        yield label("zs_unmap_object")
        pool = self.pool
        yield pool.lock.acquire(shared=True)
        obj = yield from self.handle_to_obj(handle)
        if not obj:
            raise Bug(f"zs_unmap_object: handle {handle.key} holds no location")
        page, idx = self.obj_to_location(obj)
        zspage = yield from self.get_zspage(page)
        yield pool.lock.release()
        _, _, spans = zspage.cls.geometry.location(idx)
        area = self.pool.map_area[self.cpu]
        if spans:
            nxt = yield from self.get_next_zpdesc(page)
            if nxt is None:
                raise Bug(f"zs_unmap_object: BUG_ON(!zpdescs[1]) for {page.name}")
            yield from self._zs_unmap_object(area, (page, nxt), idx)
        yield from self.local_unlock()
        for o in reversed(self.mapped.pop(handle.key, ())):
            yield o.unpin()
        yield from self.zspage_read_unlock(zspage)
