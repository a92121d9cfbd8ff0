"""zspage_write_unlock (6.15): spin_unlock(&zsl->lock) before zsl->cnt = ZS_PAGE_UNLOCKED
(two statements swapped): a reader that gets the spinlock in between increments -1 to 0, and the
writer's store then erases the reader's count (§1 c, rules 1-5)."""
from model import Upstream


class ZslWriteUnlockOrder(Upstream):
    def zspage_write_unlock(self, zspage):
        zsl = zspage.zl
        yield zsl.dep_map.release()
        yield zsl.lock.release()
        yield zsl.cnt.write(0)
