"""zs_malloc: a patch that re-takes class->lock straight after alloc_zspage (to shorten the
code between the two critical sections) and tests the result under it, forgetting to drop
the lock on the error path:

    zspage = alloc_zspage(pool, class, gfp, nid);
    spin_lock(&class->lock);
    if (!zspage) {
            cache_free_handle(pool, handle);
            return (unsigned long)ERR_PTR(-ENOMEM);         /* spin_unlock() lost */
    }
    obj_malloc(pool, zspage, handle);

Decided before running zsmc: a REAL BUG.  §2.1 step 6: the failure returns with no lock
held; here the caller returns holding class->lock with preemption disabled, and the next
user of the class spins forever.  Found by malloc-nomem (lock-balance, or a deadlock with
the other client).
"""
from checker import label
from model import Upstream
from model.pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE

ENOMEM = 12


class MallocNomemHoldsClassLock(Upstream):
    def zs_malloc(self, size, key):
        handle = yield from self.cache_alloc_handle(key)
        if handle is None:
            return -ENOMEM
        cls = self.pool.class_for(size)
        yield cls.lock.acquire()
        yield label("zs_malloc")
        zspage = yield from self.find_get_zspage(cls)
        if zspage is not None:
            yield from self.obj_malloc(zspage, handle)
            yield from self.fix_fullness_group(cls, zspage)
            yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
            yield cls.lock.release()
            return handle
        yield cls.lock.release()

        zspage = yield from self.alloc_zspage(cls)
        yield cls.lock.acquire()
        if zspage is None:
            yield from self.cache_free_handle(handle)
            return -ENOMEM
        yield from self.obj_malloc(zspage, handle)
        newfg = self.get_fullness_group(cls, zspage)
        yield from self.insert_zspage(cls, zspage, newfg)
        self.pool.pages_allocated += cls.pages_per_zspage
        yield from self.class_stat_add(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
        cls.ghost_zspages.append(zspage)
        yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
        yield from self.SetZsPageMovable(zspage)
        yield cls.lock.release()
        return handle
