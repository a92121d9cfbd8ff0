"""zs_free: obj_free split so that the bookkeeping comes first and the page is mapped last
("do the zspage accounting before touching the page: fix_fullness_group sees the new
inuse at once")::

        class_stat_sub(class, ZS_OBJS_INUSE, 1);
    -   obj_free(class->size, obj);
    +   f_offset = ...; set_freeobj(zspage, f_objidx); mod_zspage_inuse(zspage, -1);
        fullness = fix_fullness_group(class, zspage);
        if (fullness == ZS_INUSE_RATIO_0)
                free_zspage(pool, class, zspage);
    +   vaddr = kmap_local_zpdesc(f_zpdesc);
    +   link = (struct link_free *)(vaddr + f_offset);
    +   link->next = old_freeobj << OBJ_TAG_BITS;
    +   kunmap_local(vaddr);
        spin_unlock(&class->lock);

Verdict from the protocol before running zsmc: a REAL BUG.  When the object was the last
one, free_zspage frees the zspage and its pages (trylock_zspage succeeds unless a page is
locked, §2.2 step 7); the link is then written into a freed page (use after free: I4 frees
a zspage only when nothing uses it).  Found in any scenario where a free empties a zspage
(free-migrate, migrate-single): no-free-while-mapped or bug.
"""
from checker import Bug, label
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_OBJS_INUSE


class FreeLinkAfterFreeZspage(Upstream):
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
        yield from self.class_stat_sub(cls, ZS_OBJS_INUSE, 1)
        page, idx = self.obj_to_location(obj)
        yield zspage.obj.access(write=True, marked=False)
        old_free = zspage.freeobj
        zspage.freeobj = idx
        zspage.inuse -= 1
        fullness = yield from self.fix_fullness_group(cls, zspage)
        if fullness == ZS_INUSE_RATIO_0:
            yield from self.free_zspage(cls, zspage)
        yield page.obj.access(write=True, marked=False)
        link = page.mem.get(("hdr", idx))
        if link is None or link[0] != "alloc":
            raise Bug(f"obj_free: object {idx} of {zspage.name} is not allocated (double free)")
        page.mem[("hdr", idx)] = ("free", old_free)
        yield cls.lock.release()
        yield from self.cache_free_handle(handle)
