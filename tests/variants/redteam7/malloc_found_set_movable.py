"""zs_malloc: SetZsPageMovable() on the found path too ("an empty zspage reused from the 0%
list may have been half torn down; make sure every page of a zspage we allocate from is
movable")::

    zspage = find_get_zspage(class);
    if (likely(zspage)) {
        obj_malloc(pool, zspage, handle);
        fix_fullness_group(class, zspage);
        class_stat_add(class, ZS_OBJS_INUSE, 1);
        SetZsPageMovable(pool, zspage);            /* added */
        spin_unlock(&class->lock);
        return handle;
    }

Verdict from the protocol before running zsmc: a REAL BUG.  SetZsPageMovable trylocks each
page and WARNs when that fails (§2.1 step 7), which is right only for a *new* zspage nobody
else can reach.  A zspage on a class list is live: the migration core holds the lock of the
page it isolates or migrates (§2.5: callbacks run "with the source page locked"; §3: page
lock -> pool->lock -> class->lock), so the trylock fails whenever zs_malloc reuses a zspage
one of whose pages is under migration: WARN_ON(!zpdesc_trylock()).  (And __SetPageMovable
on a page the core has isolated rewrites page->mapping under the core's page lock.)
"""
from checker import label
from model import Upstream
from model.alloc import ENOMEM
from model.pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE


class MallocFoundSetMovable(Upstream):
    def zs_malloc(self, size, key):
        handle = yield from self.cache_alloc_handle(key)
        if handle is None:
            return -ENOMEM
        cls = self.pool.class_for(size)
        yield cls.lock.acquire()
        yield label("zs_malloc")
        zspage = yield from self.find_get_zspage(cls)
        if zspage is not None:
            yield from self.obj_malloc(zspage, handle)
            yield from self.fix_fullness_group(cls, zspage)
            yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
            yield from self.SetZsPageMovable(zspage)
            yield cls.lock.release()
            return handle
        yield cls.lock.release()
        zspage = yield from self.alloc_zspage(cls)
        if zspage is None:
            yield from self.cache_free_handle(handle)
            return -ENOMEM
        yield cls.lock.acquire()
        yield from self.obj_malloc(zspage, handle)
        newfg = self.get_fullness_group(cls, zspage)
        yield from self.insert_zspage(cls, zspage, newfg)
        self.pool.pages_allocated += cls.pages_per_zspage
        yield from self.class_stat_add(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
        cls.ghost_zspages.append(zspage)
        yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
        yield from self.SetZsPageMovable(zspage)
        yield cls.lock.release()
        return handle
