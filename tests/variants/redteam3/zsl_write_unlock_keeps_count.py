"""6.15 zspage_write_unlock: `zsl->cnt = ZS_PAGE_UNLOCKED` dropped ("the spin_unlock is what
readers wait for").  cnt stays -1 after the section: the next reader counts from -1 to 0 and
back to -1, so every later writer's trylock fails for ever (nothing is ever compacted or
migrated again), and a reader that sees 0 lets a writer in under a second reader.  A real
bug: I2 (a write-locked zspage has cnt == -1 *and* only then), §1 c write unlock."""
from model import Upstream


class ZslWriteUnlockKeepsCount(Upstream):
    def zspage_write_unlock(self, zspage):
        zsl = zspage.zl
        yield zsl.dep_map.release()
        yield zsl.lock.release()
