"""6.15 zspage_write_trylock: `rwsem_acquire(..., trylock=1)` issued before the count test
and undone with `rwsem_release` on failure (one annotation site).  A trylock annotation adds
no dependency, and the failure path releases it before anything else is taken: not a bug
(§1 c; v9 -> v10 dropped lock_contended on trylock paths, which this does not use)."""
from model import Upstream


class ZslWriteTrylockAnnotateFirst(Upstream):
    def zspage_write_trylock(self, zspage):
        zsl = zspage.zl
        yield zsl.lock.acquire()
        yield zsl.dep_map.try_acquire()
        cnt = yield zsl.cnt.read()
        if cnt == 0:
            yield zsl.cnt.write(-1)
            return True
        yield zsl.dep_map.release()
        yield zsl.lock.release()
        return False
