"""zspage_write_trylock annotates the writer as a blocking acquisition
(``rwsem_acquire(&zsl->dep_map, 0, 0, _RET_IP_)``, trylock=0 instead of 1: "the lock is
ours at this point, trylock=1 only weakens lockdep's checks").

The lock itself is unchanged: the writer still only trylocks (spin_lock of the inner
spinlock, test of cnt), fails when readers hold it, never waits for them (rules 1-3 hold).
What changes is lockdep's view: an acquisition recorded as blocking adds dependencies
pool->lock -> zspage->lock and class->lock -> zspage->lock (write).  Nothing takes
pool->lock or class->lock while holding zspage->lock (§3 table: readers take it inside
pool->lock, lock_zspage takes only page locks under it), so no cycle closes and lockdep
reports nothing.  An imprecise annotation, no behaviour change.  Verdict: not a bug.
"""
from model import Upstream
from model.zspage_lock import ZS_PAGE_UNLOCKED, ZS_PAGE_WRLOCKED


class ZslWriteLockdepBlocking(Upstream):
    def zspage_write_trylock(self, zspage):
        zsl = zspage.zl
        yield zsl.lock.acquire()
        cnt = yield zsl.cnt.read()
        if cnt == ZS_PAGE_UNLOCKED:
            yield zsl.cnt.write(ZS_PAGE_WRLOCKED)
            yield zsl.dep_map.acquire()
            return True
        yield zsl.lock.release()
        return False
