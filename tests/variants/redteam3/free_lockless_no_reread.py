"""The 2026 proposal (§1 "Later evolution") without its re-read: zs_free reads the handle
without any lock, takes the class lock that obj names, and then uses the obj it read
*before* the lock ("class_idx cannot change, so obj is good").  Migration or compaction
may have moved the object in between (they hold the class lock only while rewriting the
handle): obj_free frees a slot of a page that was replaced and freed, or of a src zspage
compaction emptied.  A real bug: the proposal's "re-read under class->lock", I1, bug 1's
read side (§4 #1 mutation: zs_free reads the handle without the lock that orders it)."""
from checker import Bug, label
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_OBJS_INUSE


class FreeLocklessNoReread(Upstream):
    def location_to_obj(self, page, idx):
        return (page, idx, page.zspage.cls.index)

    def copy_page_and_rewrite_handles(self, newpage, page):
        # newpage joins the chain only in replace_sub_page: the class comes from the old obj
        from checker import SharedDict
        yield page.obj.access()
        yield newpage.obj.access(write=True)
        newpage.mem = SharedDict(page.mem)
        for idx in page.first_objs:
            hdr = page.mem.get(("hdr", idx))
            if hdr is not None and hdr[0] == "alloc":
                handle = hdr[1]
                old = yield from self.handle_to_obj(handle)
                yield from self.record_obj(handle, (newpage, old[1], old[2]))

    def zs_free(self, handle):
        pool = self.pool
        obj = yield from self.handle_to_obj(handle)
        if not obj:
            raise Bug(f"zs_free: handle {handle.key} holds no location")
        cls = pool.size_class[obj[2]]
        yield cls.lock.acquire()
        yield label("zs_free")
        zspage = yield from self.get_zspage(self.obj_to_zpdesc(obj))
        yield from self.class_stat_sub(cls, ZS_OBJS_INUSE, 1)
        yield from self.obj_free(cls, obj)
        fullness = yield from self.fix_fullness_group(cls, zspage)
        if fullness == ZS_INUSE_RATIO_0:
            yield from self.free_zspage(cls, zspage)
        yield cls.lock.release()
        yield from self.cache_free_handle(handle)
