"""lock_zspage: after sleeping on a busy later page and re-taking the zspage read lock, the
tail walk restarts from the first page ("migration may have rebuilt the chain while we
slept; the first page is locked by us, so walk again from it") instead of from curr.

Decided before running zsmc: a REAL BUG.  §2.6 lock_zspage step 2: "Failure: reference it,
ZRU, sleep until unlocked, drop reference, ZR again, retry from curr (a locked page cannot
migrate, so its next pointer is stable once the read lock is re-taken)".  Restarting at the
first page walks again over the pages this task has already locked: with a chain of 3+
pages and page k >= 2 busy, the rewalk trylocks page 1, which the worker itself holds, fails,
and sleeps in folio_wait_locked on its own page lock -- the free worker deadlocks (and
migration of the zspage's pages then blocks on the page locks it holds).  With 2-page
zspages curr *is* the first page whenever a later page is busy, so the change is invisible.
"""
from model import Upstream


class LockZspageTailRewalk(Upstream):
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
                yield from self.zpdesc_put(page)
                yield from self.zspage_read_lock(zspage)
                curr = yield from self.get_first_zpdesc(zspage)
        yield from self.zspage_read_unlock(zspage)
