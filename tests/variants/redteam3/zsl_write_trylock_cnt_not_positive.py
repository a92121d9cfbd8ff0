"""6.15 zspage_write_trylock: `if (zsl->cnt <= 0)` instead of `== ZS_PAGE_UNLOCKED`
("a negative count is also free of readers").  cnt is -1 only while a writer holds zsl->lock
for its whole section, and every test of cnt holds zsl->lock, so a trylock never sees -1:
the condition is equivalent.  Not a bug (§1 c: the writer returns holding zsl->lock; rule 1
of §3)."""
from model import Upstream


class ZslWriteTrylockCntNotPositive(Upstream):
    def zspage_write_trylock(self, zspage):
        zsl = zspage.zl
        yield zsl.lock.acquire()
        cnt = yield zsl.cnt.read()
        if cnt <= 0:
            yield zsl.cnt.write(-1)
            yield zsl.dep_map.try_acquire()
            return True
        yield zsl.lock.release()
        return False
