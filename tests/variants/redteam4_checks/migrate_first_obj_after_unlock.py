"""zs_page_migrate sets the new page's first_obj_offset and movable bit after dropping the
zsmalloc locks, "because the migration core holds newpage's page lock, nobody else can see
it":

    replace_sub_page(class, zspage, newzpdesc, zpdesc);   /* chain only now */
    pool_write_unlock(pool);
    size_class_unlock(class);
    zspage_write_unlock(zspage);
    zpdesc_get(newzpdesc);
    set_first_obj_offset(newzpdesc, get_first_obj_offset(zpdesc));   /* moved here */
    __zpdesc_set_movable(newzpdesc, &zsmalloc_mops);                  /* moved here */
    ...

The two stores are plain writes of the new page's descriptor in the continuation of the
zpdesc_get step: no ``yield newpage.desc.access(write=True)`` was added for them.

Verdict decided from the protocol document before running zsmc: REAL BUG.
§2.5 step 8: replace_sub_page copies first_obj_offset and marks the new page movable under
W(pool) + class->lock + ZWT.  Once replace_sub_page has linked newpage into the chain and the
locks are dropped, compaction (W(pool) + class->lock, §2.4 d) walks the chain and
find_alloced_obj reads ``get_first_obj_offset(newpage)`` before it is set: it reads the
wrong objects' headers (or none), so objects are skipped or garbage is taken for a handle;
the page lock the migration core holds does not exclude compaction (§3 table: compaction takes
no page lock of its src).  A data race on first_obj_offset at least.
"""
from checker import label
from model import Upstream
from model.migrate import EINVAL, MIGRATEPAGE_SUCCESS


class MigrateFirstObjAfterUnlock(Upstream):
    def replace_sub_page(self, cls, zspage, newpage, oldpage):
        pages = []
        page = yield from self.get_first_zpdesc(zspage)
        while page is not None:
            pages.append(newpage if page is oldpage else page)
            page = yield from self.get_next_zpdesc(page)
        yield from self.create_page_chain(cls, zspage, pages)

    def zs_page_migrate(self, newpage, page):
        zspage = yield from self.get_zspage(page)
        if not page.isolated:
            from checker import Bug
            raise Bug(f"zs_page_migrate: VM_BUG_ON_PAGE(!zpdesc_is_isolated({page.name}))")
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
        yield from self.copy_page_and_rewrite_handles(newpage, page)
        yield from self.replace_sub_page(cls, zspage, newpage, page)
        yield pool.lock.release()
        yield cls.lock.release()
        yield from self.zspage_write_unlock(zspage)
        yield from self.zpdesc_get(newpage)
        newpage.first_objs = page.first_objs        # set_first_obj_offset(), moved here
        newpage.movable = True                      # __zpdesc_set_movable(), moved here
        yield from self.reset_zpdesc(page)
        yield from self.zpdesc_put(page)
        return MIGRATEPAGE_SUCCESS
