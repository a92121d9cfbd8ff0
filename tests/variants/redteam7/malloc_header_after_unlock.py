"""zs_malloc: the object header is written after spin_unlock(&class->lock) ("the slot is
already ours: freeobj is advanced, inuse counted and the handle recorded under the lock; the
kmap and the header store need not lengthen the critical section")::

    /* obj_malloc(): */
    set_freeobj(zspage, link->next >> OBJ_TAG_BITS);   /* was: also link->handle = ... */
    mod_zspage_inuse(zspage, 1);
    record_obj(handle, obj);
    ...
    spin_unlock(&class->lock);
    link = kmap_local_zpdesc(m_zpdesc) + m_offset;
    link->handle = handle | OBJ_ALLOCATED_TAG;          /* moved here */
    kunmap_local(link);

Verdict from the protocol before running zsmc: a REAL BUG.  §2.1: class->lock alone excludes
migration and compaction while zs_malloc allocates.  §2.5 step 7: zs_page_migrate rewrites
the handle of every object *whose header is tagged allocated*; §2.4 d: find_alloced_obj
finds objects by the same tag.  Between the unlock and the late header store, a migration of
the page copies a slot that is not yet tagged, does not rewrite the handle, and frees the old
page, into which zs_malloc then writes the header and its caller the data (the handle names
a freed page: I1/I3).  The reused zspage must be the one whose page migrates: a zs_malloc
that *finds* a zspage (§2.1 step 5) against migration of that zspage's page.  (The new-zspage path is unchanged: there the
header is written under the lock, before the zspage is published.)
"""
from checker import Bug, label
from model import Upstream
from model.alloc import ENOMEM
from model.pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE


class MallocHeaderAfterUnlock(Upstream):
    def obj_malloc_reserve(self, zspage, handle):
        cls = zspage.cls
        yield zspage.obj.access()
        idx = zspage.freeobj
        if idx is None:
            raise Bug(f"obj_malloc: {zspage.name} has no free object (freelist corrupted)")
        page = zspage.first
        for _ in range(cls.geometry.location(idx)[0]):
            page = yield from self.get_next_zpdesc(page)
        yield page.obj.access()
        link = page.mem.get(("hdr", idx))
        if link is None or link[0] != "free":
            raise Bug(f"obj_malloc: object {idx} of {zspage.name} is not free (freelist corrupted)")
        yield zspage.obj.access(write=True)
        zspage.freeobj = link[1]
        zspage.inuse += 1
        obj = self.location_to_obj(page, idx)
        yield from self.record_obj(handle, obj)
        return obj

    def zs_malloc(self, size, key):
        handle = yield from self.cache_alloc_handle(key)
        if handle is None:
            return -ENOMEM
        cls = self.pool.class_for(size)
        yield cls.lock.acquire()
        yield label("zs_malloc")
        zspage = yield from self.find_get_zspage(cls)
        if zspage is not None:
            obj = yield from self.obj_malloc_reserve(zspage, handle)
            yield from self.fix_fullness_group(cls, zspage)
            yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
            yield cls.lock.release()
            page, idx = self.obj_to_location(obj)
            yield page.obj.access(write=True)
            page.mem[("hdr", idx)] = ("alloc", handle)
            return handle
        yield cls.lock.release()
        zspage = yield from self.alloc_zspage(cls)
        if zspage is None:
            yield from self.cache_free_handle(handle)
            return -ENOMEM
        yield cls.lock.acquire()
        yield from self.obj_malloc(zspage, handle)
        newfg = self.get_fullness_group(cls, zspage)
        yield from self.insert_zspage(cls, zspage, newfg)
        self.pool.pages_allocated += cls.pages_per_zspage
        yield from self.class_stat_add(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
        cls.ghost_zspages.append(zspage)
        yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
        yield from self.SetZsPageMovable(zspage)
        yield cls.lock.release()
        return handle
