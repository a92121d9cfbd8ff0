"""obj_malloc no longer records the location in the handle; zs_malloc does it once, after
dropping class->lock ("the handle is not visible to anyone until zs_malloc returns, so
publish it outside the lock"):

    obj = obj_malloc(pool, zspage, handle);     /* header written, no record_obj */
    ...
    spin_unlock(&class->lock);
    record_obj(handle, obj);
    return handle;

(migrate_zspage, the other obj_malloc caller, records the new location itself.)

Decided before running zsmc: a REAL BUG.  §2.1: "No pool lock and no zspage lock is taken --
class->lock alone excludes migration/compaction (both take it) and the handle is not yet
published to anybody."  The handle is unpublished to *callers*, but the object header
written by obj_malloc names it, and compaction (find_alloced_obj -> handle_to_obj, §2.4 d)
and migration (the handle rewrite, §2.5 step 7) find it through the header as soon as
class->lock is dropped.  Compaction then reads a handle with no location yet (handle_to_obj
returns 0), or migration rewrites it and zs_malloc's late record_obj overwrites the new
location with the old one (I1: the handle names a freed slot).
"""
from checker import Bug, label
from model import Upstream
from model.pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE


class MallocRecordObjAfterUnlock(Upstream):
    def obj_malloc(self, zspage, handle):
        cls = zspage.cls
        yield zspage.obj.access()
        idx = zspage.freeobj
        if idx is None:
            raise Bug(f"obj_malloc: {zspage.name} has no free object (freelist corrupted)")
        page = zspage.first
        for _ in range(cls.geometry.location(idx)[0]):
            page = yield from self.get_next_zpdesc(page)
        yield page.obj.access(write=True)
        link = page.mem.get(("hdr", idx))
        if link is None or link[0] != "free":
            raise Bug(f"obj_malloc: object {idx} of {zspage.name} is not free (freelist corrupted)")
        page.mem[("hdr", idx)] = ("alloc", handle)
        yield zspage.obj.access(write=True)
        zspage.freeobj = link[1]
        zspage.inuse += 1
        return self.location_to_obj(page, idx)

    def migrate_zspage(self, src, dst):
        cls = src.cls
        s_page = yield from self.get_first_zpdesc(src)
        obj_idx = 0
        while True:
            handle, obj_idx = yield from self.find_alloced_obj(cls, s_page, obj_idx)
            if handle is None:
                s_page = yield from self.get_next_zpdesc(s_page)
                if s_page is None:
                    break
                obj_idx = 0
                continue
            used_obj = yield from self.handle_to_obj(handle)
            free_obj = yield from self.obj_malloc(dst, handle)
            yield from self.record_obj(handle, free_obj)
            yield from self.zs_object_copy(cls, free_obj, used_obj)
            obj_idx += 1
            yield from self.obj_free(cls, used_obj)
            yield dst.obj.access()
            if dst.inuse == cls.objs_per_zspage:
                break
            yield src.obj.access()
            if src.inuse == 0:
                break

    def zs_malloc(self, size, key):
        handle = yield from self.cache_alloc_handle(key)
        cls = self.pool.class_for(size)
        yield cls.lock.acquire()
        yield label("zs_malloc")
        zspage = yield from self.find_get_zspage(cls)
        if zspage is not None:
            obj = yield from self.obj_malloc(zspage, handle)
            yield from self.fix_fullness_group(cls, zspage)
            yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
            yield cls.lock.release()
            yield from self.record_obj(handle, obj)
            return handle
        yield cls.lock.release()

        zspage = yield from self.alloc_zspage(cls)
        yield cls.lock.acquire()
        obj = yield from self.obj_malloc(zspage, handle)
        newfg = self.get_fullness_group(cls, zspage)
        yield from self.insert_zspage(cls, zspage, newfg)
        self.pool.pages_allocated += cls.pages_per_zspage
        yield from self.class_stat_add(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
        cls.ghost_zspages.append(zspage)
        yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
        yield from self.SetZsPageMovable(zspage)
        yield cls.lock.release()
        yield from self.record_obj(handle, obj)
        return handle
