"""6.15 zspage_write_unlock: the `rwsem_release(&zsl->dep_map, _RET_IP_)` line dropped in a
cleanup ("the trylock annotation is only for the report").  Lockdep then believes the writer
still holds "zspage->lock": the task returns holding a lock, and the zspage (with its held
lockdep map) can be freed.  A real bug (lockdep imbalance, the v5/v10 annotations of §1 b/c
must pair: rwsem_acquire(trylock=1) ... rwsem_release)."""
from model import Upstream


class ZslWriteUnlockNoLockdepRelease(Upstream):
    def zspage_write_unlock(self, zspage):
        zsl = zspage.zl
        yield zsl.cnt.write(0)
        yield zsl.lock.release()
