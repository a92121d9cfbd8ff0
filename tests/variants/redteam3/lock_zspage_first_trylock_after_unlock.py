"""lock_zspage: for the first page the read lock is dropped right after reading
first_zpdesc, and the trylock of that page follows outside it ("the read lock only guards
the pointer").  Between ZRU and the trylock migration replaces the first page: the worker
locks the old page, no longer in the chain, and frees a zspage whose new first page it never
locked (migration then uses a freed zspage).  A real bug: §2.6 lock_zspage step 1 (trylock
while holding the read lock), bug 2/3 c."""
from model import Upstream


class LockZspageFirstTrylockAfterUnlock(Upstream):
    def lock_zspage(self, zspage):
        while True:
            yield from self.zspage_read_lock(zspage)
            page = yield from self.get_first_zpdesc(zspage)
            yield from self.zpdesc_get(page)
            yield from self.zspage_read_unlock(zspage)
            if (yield from self.zpdesc_trylock(page)):
                yield from self.zpdesc_put(page)
                break
            yield from self.zpdesc_wait_locked(page)
            yield from self.zpdesc_put(page)
        yield from self.zspage_read_lock(zspage)
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
                yield from self.zpdesc_wait_locked(page)
                yield from self.zpdesc_put(page)
                yield from self.zspage_read_lock(zspage)
        yield from self.zspage_read_unlock(zspage)
