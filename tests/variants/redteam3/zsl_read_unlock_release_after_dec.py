"""6.15 zspage_read_unlock: the lockdep `rwsem_release` moved after the counted decrement
(annotation next to the real release).  Round 3 judged it no bug: the annotation's position
changes no lock state and no order lockdep sees (§1 c, §4 "minor series issues").  Round 4:
it is one where lockdep is on.  Once the count is dropped and zsl->lock released, a writer
(compaction) may take the zspage and free it; `rwsem_release(&zsl->dep_map)` then touches
the freed zspage (the map lives in struct zspage_lock, §1 c), which lockdep reports as a
held lock freed and KASAN as a use after free.  The protocol's order, release first, is
the one that is safe."""
from model import Upstream


class ZslReadUnlockReleaseAfterDec(Upstream):
    def zspage_read_unlock(self, zspage):
        zsl = zspage.zl
        yield zsl.lock.acquire()
        yield zsl.cnt.add(-1)
        yield zsl.lock.release()
        yield zsl.dep_map.release()
