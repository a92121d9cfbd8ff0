"""The OBJS_INUSE decrement moved from zs_free into obj_free ("account where the object is
actually freed, next to mod_zspage_inuse(zspage, -1)")::

    static void obj_free(int class_size, unsigned long obj)
    {
        ...
        mod_zspage_inuse(zspage, -1);
        class_stat_sub(class, ZS_OBJS_INUSE, 1);     /* moved here from zs_free */
    }

Verdict from the protocol before running zsmc: a REAL BUG.  obj_free has a second caller:
migrate_zspage frees the *source* slot of every object compaction moves (§2.4 d: obj_malloc
in dst, zs_object_copy, obj_free in src), and the object is still in use, now in dst.  Each
moved object decrements OBJS_INUSE once more: I6 (OBJS_INUSE = sum of inuse) breaks, and
zs_can_compact's estimate drifts.
"""
from checker import Bug, label
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_OBJS_INUSE


class ObjFreeCountsInuse(Upstream):
    def obj_free(self, cls, obj):
        page, idx = self.obj_to_location(obj)
        zspage = yield from self.get_zspage(page)
        yield page.obj.access(write=True)
        link = page.mem.get(("hdr", idx))
        if link is None or link[0] != "alloc":
            raise Bug(f"obj_free: object {idx} of {zspage.name} is not allocated (double free)")
        page.mem[("hdr", idx)] = ("free", zspage.freeobj)
        yield zspage.obj.access(write=True)
        zspage.freeobj = idx
        zspage.inuse -= 1
        yield from self.class_stat_sub(cls, ZS_OBJS_INUSE, 1)

    def zs_free(self, handle):
        pool = self.pool
        yield pool.lock.acquire(shared=True)
        yield label("zs_free")
        obj = yield from self.handle_to_obj(handle)
        if not obj:
            raise Bug(f"zs_free: handle {handle.key} holds no location")
        zspage = yield from self.get_zspage(self.obj_to_zpdesc(obj))
        cls = zspage.cls
        yield cls.lock.acquire()
        yield pool.lock.release()
        yield from self.obj_free(cls, obj)
        fullness = yield from self.fix_fullness_group(cls, zspage)
        if fullness == ZS_INUSE_RATIO_0:
            yield from self.free_zspage(cls, zspage)
        yield cls.lock.release()
        yield from self.cache_free_handle(handle)
