"""6.15 zs_obj_write: "a writer of the object should hold the zspage lock for writing": the
read lock is replaced by a loop on zspage_write_trylock (under pool->lock R, as the lookup
needs).  The data writer now waits in atomic context (pool R) for readers to leave, and a
reader of another object of the zspage may be sleeping (zram decompressing): on one CPU it
never runs again.  A real bug: §2.3 c note ("data writers use the read side"), rules 3 and
5 of §3, hazard 15."""
from checker import Bug, label
from model import Upstream


class ObjWriteTakesWriteLock(Upstream):
    def zs_obj_write(self, handle, value):
        pool = self.pool
        yield pool.lock.acquire(shared=True)
        yield label("zs_obj_write")
        obj = yield from self.handle_to_obj(handle)
        if not obj:
            raise Bug(f"zs_obj_write: handle {handle.key} holds no location")
        page, idx = self.obj_to_location(obj)
        zspage = yield from self.get_zspage(page)
        while not (yield from self.zspage_write_trylock(zspage)):
            pass
        yield pool.lock.release()
        _, _, spans = zspage.cls.geometry.location(idx)
        yield page.obj.access(write=True)
        page.mem[("data", idx)] = value
        if spans:
            nxt = yield from self.get_next_zpdesc(page)
            yield nxt.obj.access(write=True)
            nxt.mem[("data", idx)] = value
        yield from self.zspage_write_unlock(zspage)
