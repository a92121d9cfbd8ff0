"""6.15 zspage_read_unlock: the lockdep `rwsem_release` moved after the counted decrement
(annotation next to the real release).  The annotation position inside the unlock changes
no lock state and no order lockdep sees: not a bug (§1 c; the v10 review only asked for
static keys and no lock_contended on trylock paths, §4 "minor series issues")."""
from model import Upstream


class ZslReadUnlockReleaseAfterDec(Upstream):
    def zspage_read_unlock(self, zspage):
        zsl = zspage.zl
        yield zsl.lock.acquire()
        yield zsl.cnt.add(-1)
        yield zsl.lock.release()
        yield zsl.dep_map.release()
