"""alloc_zspage (legacy): the unwinding loop stops one page early:

    if (!page) {
            while (--i > 0) {                       /* was: --i >= 0 */
                    dec_zone_page_state(pages[i], NR_ZSPAGES);
                    __ClearPageZsmalloc(pages[i]);
                    __free_page(pages[i]);
            }
            cache_free_zspage(pool, zspage);
            return NULL;
    }

Decided before running zsmc: a REAL BUG.  §2.1 step 6: every page taken before the
failing one goes back; with the test `> 0` page 0 never does.  With two-page zspages a
failure of the second page leaks the first.  Found by malloc-nomem (page-leak end check).
"""
from checker import might_sleep
from model import Legacy


class LegacyAllocZspageOffByOne(Legacy):
    def alloc_zspage(self, cls):
        yield might_sleep()
        zspage = yield from self.cache_alloc_zspage(cls)
        if zspage is None:
            return None
        zpdescs = []
        for i in range(cls.pages_per_zspage):
            zpdesc = yield from self.alloc_zpdesc(self.pool.zone, f"{zspage.name}.p{i}")
            if zpdesc is None:
                while (i := i - 1) > 0:            # while (--i > 0)
                    yield from self._zpdesc_clear_zsmalloc(zpdescs[i])
                    yield from self.free_zpdesc(zpdescs[i])
                yield from self.cache_free_zspage(zspage)
                return None
            zpdescs.append(zpdesc)
        self.init_new_zspage(zspage, zpdescs)
        return zspage
