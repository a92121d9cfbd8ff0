"""v5 zspage_write_unlock: a plain atomic_set ("the writer is atomic and about to
preempt_enable(), which is a compiler barrier anyway; the _release is not needed")::

     static void zspage_write_unlock(struct zspage *zspage)
     {
             rwsem_release(&zspage->lockdep_map, _RET_IP_);
    -        atomic_set_release(&zspage->lock, ZS_PAGE_UNLOCKED);
    +        atomic_set(&zspage->lock, ZS_PAGE_UNLOCKED);
             preempt_enable();
     }

Verdict from the protocol before running zsmc: a REAL BUG, visible only under a weak memory
model (hazard 16: "the writer's copy may not be visible"; preempt_enable orders nothing for
another CPU).  Handle-based readers are also ordered after a writer by pool->lock (they take
it before the zspage lock, §3 observations), but lock_zspage is the one reader not nested in
pool->lock (§2.6, §3): the free worker read-locks the zspage and walks the chain the
migrator just rewrote (create_page_chain, §2.5 step 8), with nothing ordering the two.  v5,
free-deferred, --memory-model ra: data-race; clean under sc (which cannot express it).
"""
from checker import preempt_enable
from checker.atomics import RELAXED
from model import V5


class V5WriteUnlockRelaxed(V5):
    def zspage_write_unlock(self, zspage):
        zl = zspage.zl
        yield zl.dep_map.release()
        yield zl.cnt.write(0, RELAXED)
        yield preempt_enable()
