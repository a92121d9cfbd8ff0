"""pool->pages_allocated accounting moved from __free_zspage up into free_zspage ("account
where the decision to free is taken, next to remove_zspage").  The deferred path,
async_free_zspage, calls __free_zspage directly, so every zspage freed by the worker keeps
its pages counted: zs_get_total_pages() drifts upwards (zram's mem_used_total, and its
mem_limit then refuses stores).  A real bug: the stats invariant I6 extended to the pool
page count (§2.2 step 7, §2.6; bug 12 is the same class of bug for the fullness stat)."""
from model import Upstream


class FreePagesCountInFreeZspage(Upstream):
    def free_zspage(self, cls, zspage):
        yield zspage.obj.access()
        if not (yield from self.trylock_zspage(zspage)):
            yield from self.kick_deferred_free()
            return
        yield from self.remove_zspage(cls, zspage)
        yield from self._free_zspage(cls, zspage)
        self.pool.pages_allocated -= cls.pages_per_zspage

    def _free_zspage(self, cls, zspage):
        page = zspage.first
        while page is not None:
            yield page.desc.access()
            nxt = page.next
            yield from self.reset_zpdesc(page)
            yield from self.zpdesc_unlock(page)
            yield from self.zpdesc_put(page)
            page = nxt
        yield from self.cache_free_zspage(zspage)
        from model.pool import ZS_OBJS_ALLOCATED
        yield from self.class_stat_sub(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
        if zspage in cls.ghost_zspages:
            cls.ghost_zspages.remove(zspage)
