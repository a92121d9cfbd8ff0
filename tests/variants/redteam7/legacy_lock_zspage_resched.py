"""6.11-6.14 (a) lock_zspage: cond_resched() after each page it locks ("a zspage can have
many pages; don't hog the CPU in the worker")::

    while ((zpdesc = get_next_zpdesc(curr_zpdesc))) {
        if (zpdesc_trylock(zpdesc)) {
            curr_zpdesc = zpdesc;
            cond_resched();                           /* added */
        } else { ... }
    }

Verdict from the protocol before running zsmc: a REAL BUG on (a).  The walk holds the zspage
lock for reading, an rwlock_t in (a) (§1 a; §2.6: "In (a) it [the sleep outside the lock] is
mandatory (rwlock)"): cond_resched() there is a sleep in atomic context ("sleeping function
called from invalid context").  The 6.15 twin (lock_zspage_resched.py) is no bug.
"""
from checker import cond_resched
from model import Legacy


class LegacyLockZspageResched(Legacy):
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
                yield cond_resched()
            else:
                yield from self.zpdesc_get(page)
                yield from self.zspage_read_unlock(zspage)
                yield from self.zpdesc_wait_locked(page)
                yield from self.zpdesc_put(page)
                yield from self.zspage_read_lock(zspage)
        yield from self.zspage_read_unlock(zspage)
