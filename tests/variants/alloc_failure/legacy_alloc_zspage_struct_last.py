"""alloc_zspage (legacy): take the pages first and the struct zspage last, so that a
failing page allocation has no struct to give back; a failing struct allocation gives
back every page:

    for (i = 0; i < class->pages_per_zspage; i++) {
            page = alloc_page(gfp);
            if (!page)
                    goto free_pages;
            __SetPageZsmalloc(page);
            pages[i] = page;
    }
    zspage = cache_alloc_zspage(pool, gfp);
    if (!zspage)
            goto free_pages;
    ...
free_pages:
    while (--i >= 0) {
            __ClearPageZsmalloc(pages[i]);
            __free_page(pages[i]);
    }
    return NULL;

Decided before running zsmc: NOT A BUG.  §2.1 step 6: nothing else sees the pages or the
struct before zs_malloc inserts the zspage; what is taken is given back on either failure.
Expected: passes, its changed lines run (malloc-nomem).  (The model names pages after
their zspage; the struct comes last here, so the page names use the name it will get.)
"""
from checker import might_sleep
from model import Legacy


class LegacyAllocZspageStructLast(Legacy):
    def alloc_zspage(self, cls):
        yield might_sleep()
        zpdescs = []
        failed = False
        for i in range(cls.pages_per_zspage):
            zpdesc = yield from self.alloc_zpdesc(self.pool.zone, f"{self.tag}zs{self.made + 1}.p{i}")
            if zpdesc is None:
                failed = True
                break
            zpdescs.append(zpdesc)
        zspage = None
        if not failed:
            zspage = yield from self.cache_alloc_zspage(cls)
        if zspage is None:
            while zpdescs:
                page = zpdescs.pop()
                yield from self._zpdesc_clear_zsmalloc(page)
                yield from self.free_zpdesc(page)
            return None
        self.init_new_zspage(zspage, zpdescs)
        return zspage
