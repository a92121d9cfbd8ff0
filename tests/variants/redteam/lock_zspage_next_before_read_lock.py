"""lock_zspage: after waiting for a busy non-first page, the next page is fetched from curr
*before* re-taking the zspage read lock ("curr is locked, its next cannot change") -- but the
fetched page is then used after the read lock is retaken without re-reading it.  A field
cached across an unlock (§2.6 lock_zspage step 2)."""
from model import Upstream


class LockZspageNextBeforeReadLock(Upstream):
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
        page = yield from self.get_next_zpdesc(curr)
        while page is not None:
            if (yield from self.zpdesc_trylock(page)):
                curr = page
                page = yield from self.get_next_zpdesc(curr)
            else:
                yield from self.zpdesc_get(page)
                yield from self.zspage_read_unlock(zspage)
                yield from self.zpdesc_wait_locked(page)
                yield from self.zpdesc_put(page)
                yield from self.zspage_read_lock(zspage)
        yield from self.zspage_read_unlock(zspage)
