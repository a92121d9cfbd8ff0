"""6.15 (c) lock_zspage: cond_resched() after each page it locks ("a zspage can have
many pages; don't hog the CPU in the worker")::

    while ((zpdesc = get_next_zpdesc(curr_zpdesc))) {
        if (zpdesc_trylock(zpdesc)) {
            curr_zpdesc = zpdesc;
            cond_resched();                           /* added */
        } else { ... }
    }

Verdict from the protocol before running zsmc: NOT A BUG on (c).  The reader side of the
6.15 zspage lock may sleep (§3 rules 4-5: "Readers may sleep while holding the lock (writers
only trylock)"; §2.6: "In (c) the sleep is still done *outside* the zspage lock although the
reader side would permit sleeping"); the worker holds no spinlock here, only page locks
(sleeping locks) and the counted read lock.  A writer meeting it fails its trylock and backs
off (migration -EINVAL, compaction breaks).  The (a) twin is legacy_lock_zspage_resched.py.
"""
from checker import cond_resched
from model import Upstream


class LockZspageResched(Upstream):
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
