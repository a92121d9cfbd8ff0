"""alloc_zspage (legacy, 6.11-6.14): the error path gives back the pages but not the
struct zspage:

    if (!page) {
            while (--i >= 0) {
                    dec_zone_page_state(pages[i], NR_ZSPAGES);
                    __ClearPageZsmalloc(pages[i]);
                    __free_page(pages[i]);
            }
            return NULL;                    /* cache_free_zspage(pool, zspage) lost */
    }

Decided before running zsmc: a REAL BUG.  §2.1 step 6: the struct comes from the pool's
zspage kmem_cache first (cache_alloc_zspage); each failed page allocation leaks one.
No page, list or counter shows it.  Found by malloc-nomem (slab-leak end check: struct
zspage leaked).
"""
from checker import might_sleep
from model import Legacy


class LegacyAllocZspageLeaksStruct(Legacy):
    def alloc_zspage(self, cls):
        yield might_sleep()
        zspage = yield from self.cache_alloc_zspage(cls)
        if zspage is None:
            return None
        zpdescs = []
        for i in range(cls.pages_per_zspage):
            zpdesc = yield from self.alloc_zpdesc(self.pool.zone, f"{zspage.name}.p{i}")
            if zpdesc is None:
                while zpdescs:
                    page = zpdescs.pop()
                    yield from self._zpdesc_clear_zsmalloc(page)
                    yield from self.free_zpdesc(page)
                return None
            zpdescs.append(zpdesc)
        self.init_new_zspage(zspage, zpdescs)
        return zspage
