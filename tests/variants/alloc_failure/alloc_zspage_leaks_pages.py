"""alloc_zspage: a rework of the page loop whose error path frees the struct zspage but
forgets the pages it already has:

    zpdesc = alloc_zpdesc(gfp, nid);
    if (!zpdesc) {
            cache_free_zspage(pool, zspage);        /* the while (--i >= 0) loop lost */
            return NULL;
    }

Decided before running zsmc: a REAL BUG.  §2.1 step 6: alloc_zspage takes one page per
chain element; when one fails, every page already taken must go back (untyped, freed).
With two-page zspages, a failure of the second page leaks the first, on every failed
allocation under memory pressure.  Found by malloc-nomem (page-leak end check: a page of
no zspage keeps its reference).
"""
from checker import might_sleep
from model import Upstream


class AllocZspageLeaksPages(Upstream):
    def alloc_zspage(self, cls):
        yield might_sleep()
        zspage = yield from self.cache_alloc_zspage(cls)
        if zspage is None:
            return None
        zpdescs = []
        for i in range(cls.pages_per_zspage):
            zpdesc = yield from self.alloc_zpdesc(self.pool.zone, f"{zspage.name}.p{i}")
            if zpdesc is None:
                yield from self.cache_free_zspage(zspage)
                return None
            zpdescs.append(zpdesc)
        self.init_new_zspage(zspage, zpdescs)
        return zspage
