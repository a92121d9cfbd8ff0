"""6.15 (c) zs_obj_write: read_unlock(&pool->lock) right after the lookup, before
zspage_read_lock ("the pool lock only protects the handle lookup")::

    read_lock(&pool->lock);
    obj = handle_to_obj(handle);
    obj_to_location(obj, &zpdesc, &obj_idx);
    zspage = get_zspage(zpdesc);
    read_unlock(&pool->lock);                 /* moved up */
    zspage_read_lock(zspage);

Verdict from the protocol before running zsmc: a REAL BUG (§4 #18, hand-over-hand: "in
zs_obj_read_begin/zs_obj_write release it before ZR(zspage).  In the gap migration can
replace the page (old page freed) or compaction can move the object and free the src
zspage").  The write then lands in a page that no longer holds the object (lost write) or in
freed memory.  (redteam/read_begin_drops_pool_lock_early is the read side; this is the
write side, a separate function.)
"""
from checker import Bug, label
from model import Upstream


class ObjWriteDropsPoolLockEarly(Upstream):
    def zs_obj_write(self, handle, value):
        pool = self.pool
        yield pool.lock.acquire(shared=True)
        yield label("zs_obj_write")
        obj = yield from self.handle_to_obj(handle)
        if not obj:
            raise Bug(f"zs_obj_write: handle {handle.key} holds no location")
        page, idx = self.obj_to_location(obj)
        zspage = yield from self.get_zspage(page)
        yield pool.lock.release()
        yield from self.zspage_read_lock(zspage)
        pins = [zspage.obj, page.obj]
        if zspage.cls.geometry.location(idx)[2] and page.next is not None:
            pins.append(page.next.obj)
        for o in pins:
            yield o.pin()
        _, _, spans = zspage.cls.geometry.location(idx)
        yield page.obj.access(write=True)
        page.mem[("data", idx)] = value
        if spans:
            nxt = yield from self.get_next_zpdesc(page)
            if nxt is None:
                raise Bug(f"zs_obj_write: {page.name} has no next page for a spanning object")
            yield nxt.obj.access(write=True)
            nxt.mem[("data", idx)] = value
        for o in reversed(pins):
            yield o.unpin()
        yield from self.zspage_read_unlock(zspage)
