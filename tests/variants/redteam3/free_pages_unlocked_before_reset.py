"""The 2026 "drop class lock before freeing zspage" proposal, done with the page locks
released first: after spin_unlock(&class->lock) zs_free unlocks every page of the zspage
("nobody can reach it now") and then resets and puts them.  But the pages are still movable
and still point at the zspage: a migration that isolated a page (reference, no lock) locks it
in that window, sees it movable and runs zs_page_migrate on a zspage that is being freed.
A real bug: hazard 23 (free without holding page locks), §2.6 __free_zspage (reset, *then*
unlock), I4."""
from checker import Bug, label
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE


class FreePagesUnlockedBeforeReset(Upstream):
    def free_zspage_keep_pages(self, cls, zspage):
        """zs_free's free_zspage (compaction keeps the old one): returns the zspage whose
        pages the caller frees after unlocking, or None."""
        yield zspage.obj.access()
        if zspage.inuse:
            raise Bug(f"free_zspage: VM_BUG_ON(get_zspage_inuse({zspage.name}))")
        if not (yield from self.trylock_zspage(zspage)):
            yield from self.kick_deferred_free()
            return None
        yield from self.remove_zspage(cls, zspage)
        yield from self.class_stat_sub(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
        if zspage in cls.ghost_zspages:
            cls.ghost_zspages.remove(zspage)
        self.pool.pages_allocated -= cls.pages_per_zspage
        return zspage

    def free_zspage_pages(self, zspage):
        yield zspage.obj.access()
        pages = []
        page = zspage.first
        while page is not None:
            yield page.desc.access()
            pages.append(page)
            nxt = page.next
            yield from self.zpdesc_unlock(page)
            page = nxt
        for page in pages:
            yield from self.reset_zpdesc(page)
            yield from self.zpdesc_put(page)
        yield from self.cache_free_zspage(zspage)

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
        yield from self.obj_free(cls, obj)
        fullness = yield from self.fix_fullness_group(cls, zspage)
        freed = None
        if fullness == ZS_INUSE_RATIO_0:
            freed = yield from self.free_zspage_keep_pages(cls, zspage)
        yield cls.lock.release()
        if freed is not None:
            yield from self.free_zspage_pages(freed)
        yield from self.cache_free_handle(handle)
