"""lock_zspage: after waiting for a busy next page, its reference is dropped after the read
lock is re-taken instead of before.  put_page never sleeps, and the page (possibly migrated
meanwhile and freed by this put) is not used again: the walk resumes from the last locked
page.  Not a bug (§2.6 lock_zspage step 2)."""
from model import Upstream


class LockZspagePutAfterRelock(Upstream):
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
                yield from self.zpdesc_wait_locked(page)
                yield from self.zspage_read_lock(zspage)
                yield from self.zpdesc_put(page)
        yield from self.zspage_read_unlock(zspage)
