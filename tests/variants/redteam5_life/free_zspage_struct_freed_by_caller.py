"""__free_zspage no longer frees the zspage struct; free_zspage does, after __free_zspage
returns ("keep __free_zspage about pages; the caller owns the struct"):

    static void free_zspage(...)
    {
            ...
            remove_zspage(class, zspage);
            __free_zspage(pool, class, zspage);
            cache_free_zspage(pool, zspage);        /* moved here */
    }

Decided before running zsmc: a REAL BUG.  §2.6: __free_zspage has two callers, free_zspage
(zs_free, compaction) and async_free_zspage ("lock_zspage; S(class); decrement the 0% stat;
__free_zspage").  The deferred path never frees the struct: each zspage freed by the worker
leaks its struct zspage (kmemleak; the zspage cache grows).  Pages, lists and counters stay
right: only a lifetime is lost.
"""
from checker import Bug
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_OBJS_ALLOCATED


class FreeZspageStructFreedByCaller(Upstream):
    def free_zspage(self, cls, zspage):
        yield zspage.obj.access()
        if zspage.inuse:
            raise Bug(f"free_zspage: VM_BUG_ON(get_zspage_inuse({zspage.name}))")
        if zspage.list is None:
            raise Bug(f"free_zspage: VM_BUG_ON(list_empty(&{zspage.name}->list))")
        if not (yield from self.trylock_zspage(zspage)):
            yield from self.kick_deferred_free()
            return
        yield from self.remove_zspage(cls, zspage)
        yield from self._free_zspage(cls, zspage)
        yield from self.cache_free_zspage(zspage)

    def _free_zspage(self, cls, zspage):
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
        yield from self.class_stat_sub(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
        if zspage in cls.ghost_zspages:
            cls.ghost_zspages.remove(zspage)
        self.pool.pages_allocated -= cls.pages_per_zspage
