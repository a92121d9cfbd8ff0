"""zs_page_migrate: copy_page(newpage, page) moved before write_lock(&pool->lock) ("copy the
4K outside the atomic section; the handles are still rewritten under all the locks").
The copy is not protected by anything but the page lock of the *old* page, which zs_malloc,
zs_free and object writers never take: an object allocated, freed or written in the page
between the copy and ZWT is lost -- the new page carries the stale bytes and header.
A real bug: a check/copy moved outside the locks that order it (§2.5 steps 2-6, I2)."""
from checker import Bug, SharedDict, label
from model import Upstream
from model.migrate import EINVAL, MIGRATEPAGE_SUCCESS


class MigrateCopyBeforeLocks(Upstream):
    def zs_page_migrate(self, newpage, page):
        zspage = yield from self.get_zspage(page)
        if not page.isolated:
            raise Bug(f"zs_page_migrate: VM_BUG_ON_PAGE(!zpdesc_is_isolated({page.name}))")
        yield page.obj.access()
        yield newpage.obj.access(write=True)
        newpage.mem = SharedDict(page.mem)
        pool = self.pool
        yield pool.lock.acquire()
        yield label("zs_page_migrate")
        cls = zspage.cls
        yield cls.lock.acquire()
        if not (yield from self.zspage_write_trylock(zspage)):
            yield cls.lock.release()
            yield pool.lock.release()
            return -EINVAL
        yield newpage.desc.access(write=True)
        newpage.zsmalloc = True
        for idx in page.first_objs:
            hdr = newpage.mem.get(("hdr", idx))
            if hdr is not None and hdr[0] == "alloc":
                yield from self.record_obj(hdr[1], self.location_to_obj(newpage, idx))
        yield from self.replace_sub_page(cls, zspage, newpage, page)
        yield pool.lock.release()
        yield cls.lock.release()
        yield from self.zspage_write_unlock(zspage)
        yield from self.zpdesc_get(newpage)
        yield from self.reset_zpdesc(page)
        yield from self.zpdesc_put(page)
        return MIGRATEPAGE_SUCCESS
