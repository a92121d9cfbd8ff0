"""v5 zspage_write_unlock: preempt_enable() before atomic_set_release(0) (two statements
swapped): the writer can be preempted still holding the lock (§1 b, hazard 14)."""
from checker import preempt_enable
from model import V5


class V5WriteUnlockPreemptFirst(V5):
    def zspage_write_unlock(self, zspage):
        zl = zspage.zl
        yield zl.dep_map.release()
        yield preempt_enable()
        yield zl.cnt.write(0, self.WRITE_UNLOCK_ORDER)
