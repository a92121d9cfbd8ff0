"""6.15 lock_zspage: Minchan's 2022 alternative (§4 #4) on the (c) lock: take the zspage read
lock once, lock_page() (sleeping) every page of the chain, drop the read lock.  In (c)
readers may sleep holding the lock (rule 5), and a migrator that holds page P and meets the
read lock fails its trylock and returns -EINVAL, unlocking P, so the worker's sleep ends:
§4 #4 says "In (c) the same change is *not* a deadlock".  Not a bug on (c) (the same change is
the deadlock mutation on (a))."""
from model import Upstream


class LockZspageSleepsUnderReadLock(Upstream):
    def lock_zspage(self, zspage):
        yield from self.zspage_read_lock(zspage)
        page = yield from self.get_first_zpdesc(zspage)
        while page is not None:
            yield from self.zpdesc_lock(page)
            page = yield from self.get_next_zpdesc(page)
        yield from self.zspage_read_unlock(zspage)
