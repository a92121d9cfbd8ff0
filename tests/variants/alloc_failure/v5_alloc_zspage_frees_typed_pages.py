"""alloc_zspage (v5): the error path frees the pages already taken without clearing their
page type first (the zpdesc conversion dropped the __ClearPageZsmalloc line):

    if (!zpdesc) {
            while (--i >= 0) {
                    zpdesc_dec_zone_page_state(zpdescs[i]);
                    free_zpdesc(zpdescs[i]);        /* __zpdesc_clear_zsmalloc() lost */
            }
            cache_free_zspage(pool, zspage);
            return NULL;
    }

Decided before running zsmc: a REAL BUG (for 6.14-6.15, where the type is cleared by
zsmalloc before the page is freed: reset_zpdesc does it on every other free path, §2.2
step 7).  A page still typed zsmalloc reaching the buddy allocator is "Bad page state"
(free_pages_prepare).  Found by malloc-nomem (bug: Bad page state).
"""
from checker import might_sleep
from model import V5


class V5AllocZspageFreesTypedPages(V5):
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
                    yield from self.free_zpdesc(zpdescs.pop())
                yield from self.cache_free_zspage(zspage)
                return None
            zpdescs.append(zpdesc)
        self.init_new_zspage(zspage, zpdescs)
        return zspage
