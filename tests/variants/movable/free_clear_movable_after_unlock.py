"""__free_zspage unlocks each page before reset_zpdesc clears its movable bit
(__ClearPageMovable after the page lock is dropped: "the zspage is off every list, nobody
can reach it").  The migration scanner can: isolate_movable_page sees a movable page, takes
its lock and isolates it while the zspage it belongs to is being freed, and migration then
reads the zspage through a page whose zspage pointer is reset or whose zspage is freed
(zsmalloc-protocol.md §2.2 step 7, §2.5, §2.6: the page lock is what keeps a zspage alive
for zs_page_isolate)."""
from checker import Bug
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_OBJS_ALLOCATED


class FreeClearMovableAfterUnlock(Upstream):
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
            yield page.desc.access()
            if page.lock.writer is None:
                raise Bug(f"__free_zspage: VM_BUG_ON_PAGE(!zpdesc_is_locked({page.name}))")
            nxt = page.next
            yield from self.zpdesc_unlock(page)
            yield from self.reset_zpdesc(page)
            yield from self.zpdesc_put(page)
            page = nxt
        yield from self.cache_free_zspage(zspage)
        yield from self.class_stat_sub(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
        if zspage in cls.ghost_zspages:
            cls.ghost_zspages.remove(zspage)
        self.pool.pages_allocated -= cls.pages_per_zspage
