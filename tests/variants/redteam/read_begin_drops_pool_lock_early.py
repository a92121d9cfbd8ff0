"""zs_obj_read_begin: read_unlock(&pool->lock) right after the handle lookup, before
zspage_read_lock ("the pool lock only protects the lookup") -- hand-over-hand broken on the read
path (§2.3 c steps 1-3, hazard 18)."""
from checker import label
from model import Upstream


class ReadBeginDropsPoolLockEarly(Upstream):
    def _lookup_and_read_lock(self, handle, fn):
        pool = self.pool
        yield pool.lock.acquire(shared=True)
        yield label(fn)
        obj = yield from self.handle_to_obj(handle)
        page, idx = self.obj_to_location(obj)
        zspage = yield from self.get_zspage(page)
        yield pool.lock.release()
        yield from self.zspage_read_lock(zspage)
        pins = [zspage.obj, page.obj]
        if zspage.cls.geometry.location(idx)[2] and page.next is not None:
            pins.append(page.next.obj)
        for o in pins:
            yield o.pin()
        return zspage, page, idx, pins
