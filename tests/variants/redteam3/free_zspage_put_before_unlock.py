"""__free_zspage: for each page the zspage's reference is dropped before the page is
unlocked (put_page; unlock_page).  When the zspage held the last reference, put_page frees
the page and unlock_page then writes PG_locked of a freed page (and wakes waiters on it).
A real bug: §2.2 step 7 ("reset, unlock page, zone stat, put page"), use after free."""
from checker import Bug
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_OBJS_ALLOCATED


class FreeZspagePutBeforeUnlock(Upstream):
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
            yield from self.reset_zpdesc(page)
            yield from self.zpdesc_put(page)
            yield from self.zpdesc_unlock(page)
            page = nxt
        yield from self.cache_free_zspage(zspage)
        yield from self.class_stat_sub(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
        if zspage in cls.ghost_zspages:
            cls.ghost_zspages.remove(zspage)
        self.pool.pages_allocated -= cls.pages_per_zspage
