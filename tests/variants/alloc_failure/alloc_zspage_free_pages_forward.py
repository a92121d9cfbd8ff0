"""alloc_zspage: the error path gives the pages back in allocation order, not in reverse
(a cleanup loop rewritten as for (j = 0; j < i; j++)):

    if (!zpdesc) {
            for (j = 0; j < i; j++) {
                    zpdesc_dec_zone_page_state(zpdescs[j]);
                    __zpdesc_clear_zsmalloc(zpdescs[j]);
                    free_zpdesc(zpdescs[j]);
            }
            cache_free_zspage(pool, zspage);
            return NULL;
    }

Decided before running zsmc: NOT A BUG.  §2.1 step 6: the pages are private to the
allocating task (not yet chained, not movable); each is untyped and freed once, in any
order.  Expected: passes, its changed lines run (malloc-nomem).
"""
from checker import might_sleep
from model import Upstream


class AllocZspageFreePagesForward(Upstream):
    def alloc_zspage(self, cls):
        yield might_sleep()
        zspage = yield from self.cache_alloc_zspage(cls)
        if zspage is None:
            return None
        zpdescs = []
        for i in range(cls.pages_per_zspage):
            zpdesc = yield from self.alloc_zpdesc(self.pool.zone, f"{zspage.name}.p{i}")
            if zpdesc is None:
                for j in range(i):
                    yield from self._zpdesc_clear_zsmalloc(zpdescs[j])
                    yield from self.free_zpdesc(zpdescs[j])
                yield from self.cache_free_zspage(zspage)
                return None
            zpdescs.append(zpdesc)
        self.init_new_zspage(zspage, zpdescs)
        return zspage
