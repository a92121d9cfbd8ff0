"""v5 zspage_read_unlock: atomic_dec_return_release() replaced by
`atomic_set_release(&zspage->lock, atomic_read(&zspage->lock) - 1)` ("we are the only one
who can drop our own reference").  Two readers unlocking at once both read n and both write
n - 1: one decrement is lost, the counter never returns to 0 and every later writer's
trylock fails (the zspage is never migrated or compacted again); a lost increment the other
way lets a writer in under a reader.  A real bug: a counter updated non-atomically (§1 b
read unlock: decrement; I2)."""
from model import V5


class V5ReadUnlockReadThenWrite(V5):
    def zspage_read_unlock(self, zspage):
        zl = zspage.zl
        yield zl.dep_map.release()
        old = yield zl.cnt.read()
        yield zl.cnt.write(old - 1, self.READ_UNLOCK_ORDER)
