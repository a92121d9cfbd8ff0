"""The 2026 proposal "drop class lock before freeing zspage" (§1 "Later evolution"):
free_zspage, with every page lock taken, removes the zspage from its list and updates the
stats under class->lock, and zs_free (the hot path; compaction keeps __free_zspage) resets,
unlocks and puts the pages after spin_unlock(&class->lock). The zspage is then on no list
with inuse 0 (nobody can reach it through the class), and its pages stay locked until reset
(migration cannot isolate them, and one isolated before finds them no longer movable). Not a
bug (§2.6, I4: the page locks are what keep migration out; "__free_zspage asserts class lock
held" moves with the code)."""
from checker import Bug, label
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE


class FreePagesAfterClassUnlock(Upstream):
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
        page = zspage.first
        while page is not None:
            yield page.desc.access()
            if page.lock.writer is None:
                raise Bug(f"__free_zspage: VM_BUG_ON_PAGE(!zpdesc_is_locked({page.name}))")
            nxt = page.next
            yield from self.reset_zpdesc(page)
            yield from self.zpdesc_unlock(page)
            yield from self.zpdesc_put(page)
            page = nxt
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
