"""zs_obj_read_begin: the copy of a spanning object into the caller's buffer done before
read_unlock(&pool->lock) instead of after ("copy while everything is pinned").  NOT a bug:
it only holds pool->lock (R) longer; the zspage read lock is still taken under it
(hand-over-hand) and the copy needs no more than what the read lock gives (§2.3 c steps
2-4; memcpy_from_page does not sleep)."""
from checker import Bug, label
from model import Upstream
from model.access import Mem, object_value


class ReadBeginCopyUnderPoolLock(Upstream):
    def zs_obj_read_begin(self, handle):
        pool = self.pool
        yield pool.lock.acquire(shared=True)
        yield label("zs_obj_read_begin")
        obj = yield from self.handle_to_obj(handle)
        page, idx = self.obj_to_location(obj)
        zspage = yield from self.get_zspage(page)
        yield from self.zspage_read_lock(zspage)
        pins = [zspage.obj, page.obj]
        spans = zspage.cls.geometry.location(idx)[2]
        if spans and page.next is not None:
            pins.append(page.next.obj)
        for o in pins:
            yield o.pin()
        if not spans:
            mem = Mem("page", page, idx)
        else:
            yield page.obj.access()
            first = page.mem.get(("data", idx))
            nxt = yield from self.get_next_zpdesc(page)
            if nxt is None:
                raise Bug(f"zs_obj_read_begin: {page.name} has no next page")
            yield nxt.obj.access()
            mem = Mem("copy", value=object_value((first, nxt.mem.get(("data", idx)))))
        yield pool.lock.release()
        self.mapped[handle.key] = pins
        return mem
