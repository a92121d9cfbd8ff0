"""zs_obj_read_begin: a spanning object is copied into the caller's buffer right after the
lookup, under pool->lock (R), before ZR ("the copy only needs the location to be stable,
and pool->lock gives that").  NOT a bug: every writer that moves objects or pages
(migration, compaction) takes pool->lock (W), so the location and the bytes are stable
while it is held; object bytes are written only by the handle's owner (caller contract,
§2.3 c note), and ZR is still taken before pool->lock is dropped, so read_end's unlock
matches (§2.3 c steps 1-4, §3 "the pool rwlock does the exclusion")."""
from checker import Bug, label
from model import Upstream
from model.access import Mem, object_value


class ReadBeginCopyBeforeReadLock(Upstream):
    def zs_obj_read_begin(self, handle):
        pool = self.pool
        yield pool.lock.acquire(shared=True)
        yield label("zs_obj_read_begin")
        obj = yield from self.handle_to_obj(handle)
        page, idx = self.obj_to_location(obj)
        zspage = yield from self.get_zspage(page)
        spans = zspage.cls.geometry.location(idx)[2]
        mem = Mem("page", page, idx)
        if spans:
            yield page.obj.access()
            first = page.mem.get(("data", idx))
            nxt = yield from self.get_next_zpdesc(page)
            if nxt is None:
                raise Bug(f"zs_obj_read_begin: {page.name} has no next page")
            yield nxt.obj.access()
            mem = Mem("copy", value=object_value((first, nxt.mem.get(("data", idx)))))
        yield from self.zspage_read_lock(zspage)
        pins = [zspage.obj, page.obj]
        if spans and page.next is not None:
            pins.append(page.next.obj)
        for o in pins:
            yield o.pin()
        yield pool.lock.release()
        self.mapped[handle.key] = pins
        return mem
