"""v5 zspage_try_write_lock: a fully ordered-looking cmpxchg without _acquire ("the writer
then takes no data from the readers: it only moves objects")::

     static bool zspage_try_write_lock(struct zspage *zspage)
     {
             ...
             preempt_disable();
    -        if (atomic_try_cmpxchg_acquire(lock, &old, ZS_PAGE_WRLOCKED)) {
    +        if (atomic_try_cmpxchg_relaxed(lock, &old, ZS_PAGE_WRLOCKED)) {

Verdict from the protocol before running zsmc: a REAL BUG under a weak memory model only
(hazard 16).  The writer *does* take data from the readers: a zs_obj_write reader stores the
object's bytes after dropping pool->lock (§2.3 c step 2), so only its read unlock
(atomic_dec_return_release) orders that store before compaction's copy of the object
(zs_object_copy, §2.4 d) or migration's copy_page; without the acquire on the writer's side
the release pairs with nothing and the copy may read the old bytes.  v5, read-compact (the
client's write, then compaction moves its object), --memory-model ra: data-race; clean
under sc.
"""
from checker import preempt_disable, preempt_enable
from checker.atomics import RELAXED
from model import V5


class V5WriteTrylockRelaxed(V5):
    def zspage_write_trylock(self, zspage):
        zl = zspage.zl
        yield preempt_disable()
        seen = yield zl.cnt.cmpxchg(0, -1, RELAXED)
        if seen == 0:
            yield zl.dep_map.try_acquire()
            return True
        yield preempt_enable()
        return False
