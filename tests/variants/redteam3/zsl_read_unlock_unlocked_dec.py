"""6.15 zspage_read_unlock: `cnt--` without zsl->lock ("a reader only drops its own
count; the spinlock is for the writer's test").  The decrement is a plain read-modify-write
of an int guarded by zsl->lock: against another reader's cnt++ under the lock one update is
lost (the count stays positive for ever, or drops to 0 under a live reader and lets a
writer move its object).  A real bug: §1 c (every cnt access under zsl->lock), rule 1."""
from model import Upstream


class ZslReadUnlockUnlockedDec(Upstream):
    def zspage_read_unlock(self, zspage):
        zsl = zspage.zl
        yield zsl.dep_map.release()
        cnt = yield zsl.cnt.read()
        yield zsl.cnt.write(cnt - 1)
