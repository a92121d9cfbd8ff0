"""zs_malloc (5.x) goes straight to the slow path when the class has no free object, judged
from the stats before taking class->lock ("skip the lock round trip when every zspage is
full")::

    if (zs_stat_get(class, OBJ_ALLOCATED) == zs_stat_get(class, OBJ_USED))  /* new, unlocked */
        goto new_zspage;
    spin_lock(&class->lock);
    zspage = find_get_zspage(class);
    ...
    new_zspage:
    zspage = alloc_zspage(pool, class, gfp);

Both stats are ``class->lock``'s (§1 a); ``zs_free`` decrements ``OBJ_USED`` under it.  A
stale "full" only allocates a zspage that compaction reclaims later, but the unlocked loads
race with the locked updates.  Verdict: a data race KCSAN reports, benign in effect.
"""
from checker import label
from model import Legacy
from model.pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE


class LegacyMallocSkipFullClassUnlocked(Legacy):
    def zs_malloc(self, size, key):
        handle = yield from self.cache_alloc_handle(key)
        cls = self.pool.class_for(size)
        yield cls.obj.access(marked=False)
        full = cls.stats[ZS_OBJS_ALLOCATED] == cls.stats[ZS_OBJS_INUSE]
        if not full:
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
