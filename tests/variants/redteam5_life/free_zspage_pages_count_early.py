"""free_zspage: account the freed pages as soon as the zspage is found empty, before trying
its page locks ("zs_get_total_pages() should drop as soon as we decide to free"):

    atomic_long_sub(class->pages_per_zspage, &pool->pages_allocated);   /* moved up */
    if (!trylock_zspage(zspage)) {
            kick_deferred_free(pool);
            return;
    }
    remove_zspage(class, zspage);
    __free_zspage(pool, class, zspage);   /* no longer subtracts */

(async_free_zspage's path, which also calls __free_zspage, now subtracts on its own.)

Decided before running zsmc: a REAL BUG.  §2.2 step 7: on trylock failure the zspage "stays on
the 0% list" for the worker -- and zs_malloc may reuse it (§2.1 step 4: find_get_zspage
scans down to 0% inclusive), so its pages are then counted as gone while in use; when the
worker frees it instead, async_free_zspage subtracts them a second time (I6 for the pool:
pages_allocated must equal the live zspages' pages).
"""
from checker import Bug
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_OBJS_ALLOCATED


class FreeZspagePagesCountEarly(Upstream):
    def free_zspage(self, cls, zspage):
        yield zspage.obj.access()
        if zspage.inuse:
            raise Bug(f"free_zspage: VM_BUG_ON(get_zspage_inuse({zspage.name}))")
        if zspage.list is None:
            raise Bug(f"free_zspage: VM_BUG_ON(list_empty(&{zspage.name}->list))")
        self.pool.pages_allocated -= cls.pages_per_zspage
        if not (yield from self.trylock_zspage(zspage)):
            yield from self.kick_deferred_free()
            return
        yield from self.remove_zspage(cls, zspage)
        yield from self._free_zspage_pages(cls, zspage)

    def _free_zspage_pages(self, cls, zspage):
        """__free_zspage without the pages_allocated update."""
        if cls.lock.writer is None:
            raise Bug("__free_zspage: assert_spin_locked(&class->lock)")
        yield zspage.obj.access()
        if zspage.inuse:
            raise Bug(f"__free_zspage: VM_BUG_ON(get_zspage_inuse({zspage.name}))")
        if zspage.fullness != ZS_INUSE_RATIO_0:
            raise Bug(f"__free_zspage: VM_BUG_ON({zspage.name}->fullness != ZS_INUSE_RATIO_0)")
        page = zspage.first
        while page is not None:
            yield page.chain.access()
            if page.lock.writer is None:
                raise Bug(f"__free_zspage: VM_BUG_ON_PAGE(!zpdesc_is_locked({page.name}))")
            nxt = page.next
            yield from self.reset_zpdesc(page)
            yield from self.zpdesc_unlock(page)
            yield from self.zpdesc_put(page)
            page = nxt
        yield from self.cache_free_zspage(zspage)
        yield from self.class_stat_sub(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
        if zspage in cls.ghost_zspages:
            cls.ghost_zspages.remove(zspage)
