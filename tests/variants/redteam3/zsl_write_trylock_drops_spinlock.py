"""6.15 zspage_write_trylock/zspage_write_unlock: "the writer only needs cnt == -1 to keep
readers out", so the trylock sets cnt = -1 and drops zsl->lock at once, and the unlock just
stores 0.  But (c) readers never look at cnt: they only wait for zsl->lock, which is now free
during the write section, so a reader (lock_zspage, or a handle reader in migration's window
after pool->lock is dropped) walks the chain while it is rewritten and counts itself from -1.
A real bug: §1 (c) "a writer is atomic for the whole write section *because it holds a
spinlock*", rules 1-2 of §3, hazard 14 (the (c) mutation it names)."""
from model import Upstream


class ZslWriteTrylockDropsSpinlock(Upstream):
    def zspage_write_trylock(self, zspage):
        zsl = zspage.zl
        yield zsl.lock.acquire()
        cnt = yield zsl.cnt.read()
        if cnt == 0:
            yield zsl.cnt.write(-1)
            yield zsl.dep_map.try_acquire()
            yield zsl.lock.release()
            return True
        yield zsl.lock.release()
        return False

    def zspage_write_unlock(self, zspage):
        zsl = zspage.zl
        yield zsl.dep_map.release()
        yield zsl.lock.acquire()
        yield zsl.cnt.write(0)
        yield zsl.lock.release()
