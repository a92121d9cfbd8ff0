"""lock_zspage: for a busy later page, the page reference is dropped before the wait instead
of after it ("the reference only has to cover the zspage_read_unlock window; after that we
just sleep on the page lock")::

    zpdesc_get(zpdesc);
    zspage_read_unlock(zspage);
    zpdesc_put(zpdesc);                 /* moved up */
    zpdesc_wait_locked(zpdesc);
    zspage_read_lock(zspage);

Verdict from the protocol before running zsmc: a REAL BUG (§4 #3 a: "wait for a page's lock
without first taking a page reference -- the page can be migrated, reset and freed while
waited on (UAF of struct page)").  Once the worker's read lock is dropped, the migration that
holds the page lock finishes, resets the old page and drops the last reference; the worker
then waits on a freed page.
"""
from model import Upstream


class LockZspagePutBeforeWait(Upstream):
    def lock_zspage(self, zspage):
        while True:
            yield from self.zspage_read_lock(zspage)
            page = yield from self.get_first_zpdesc(zspage)
            if (yield from self.zpdesc_trylock(page)):
                break
            yield from self.zpdesc_get(page)
            yield from self.zspage_read_unlock(zspage)
            yield from self.zpdesc_wait_locked(page)
            yield from self.zpdesc_put(page)
        curr = page
        while True:
            page = yield from self.get_next_zpdesc(curr)
            if page is None:
                break
            if (yield from self.zpdesc_trylock(page)):
                curr = page
            else:
                yield from self.zpdesc_get(page)
                yield from self.zspage_read_unlock(zspage)
                yield from self.zpdesc_put(page)
                yield from self.zpdesc_wait_locked(page)
                yield from self.zspage_read_lock(zspage)
        yield from self.zspage_read_unlock(zspage)
