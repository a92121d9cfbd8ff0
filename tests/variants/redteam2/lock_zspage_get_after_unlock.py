"""lock_zspage: the page reference for the wait is taken after zspage_read_unlock() instead
of before ("we only need it for the sleep").  In the gap migration can replace the busy
page, reset it and drop its last reference: the worker then takes a reference on, and
sleeps on the lock of, a freed page.  A real bug: bug 3 a of §4 (wait for a page's lock
without a reference taken while it was pinned), §2.6 lock_zspage step 1-2."""
from model import Upstream


class LockZspageGetAfterUnlock(Upstream):
    def lock_zspage(self, zspage):
        while True:
            yield from self.zspage_read_lock(zspage)
            page = yield from self.get_first_zpdesc(zspage)
            if (yield from self.zpdesc_trylock(page)):
                break
            yield from self.zspage_read_unlock(zspage)
            yield from self.zpdesc_get(page)
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
                yield from self.zspage_read_unlock(zspage)
                yield from self.zpdesc_get(page)
                yield from self.zpdesc_wait_locked(page)
                yield from self.zpdesc_put(page)
                yield from self.zspage_read_lock(zspage)
        yield from self.zspage_read_unlock(zspage)
