"""v5 zspage_write_unlock: `atomic_set_release(&zspage->lock, ZS_PAGE_UNLOCKED)` written as
`atomic_inc_return_release(&zspage->lock)` (-1 + 1 = 0).  While the counter is -1 only the
writer changes it (readers cmpxchg from a value != -1, other writers cmpxchg from 0), so
the increment always goes from -1 to 0 with the same release ordering: not a bug (§1 b write
unlock, rules 1-3)."""
from checker import preempt_enable
from model import V5


def _inc(v):
    return v + 1


class V5WriteUnlockInc(V5):
    def zspage_write_unlock(self, zspage):
        zl = zspage.zl
        yield zl.dep_map.release()
        yield zl.cnt.rmw(_inc, self.WRITE_UNLOCK_ORDER)
        yield preempt_enable()
