"""zs_malloc's slow path publishes the new zspage on its fullness list after dropping
class->lock ("nobody else knows this zspage yet")::

    spin_lock(&class->lock);
    obj_malloc(pool, zspage, handle);
    newfg = get_fullness_group(class, zspage);
    atomic_long_add(class->pages_per_zspage, &pool->pages_allocated);
    class_stat_add(class, ZS_OBJS_ALLOCATED, class->objs_per_zspage);
    class_stat_add(class, ZS_OBJS_INUSE, 1);
    SetZsPageMovable(pool, zspage);
    spin_unlock(&class->lock);
    insert_zspage(class, zspage, newfg);    /* moved out: list_add, class stat */

The zspage is new, but the list it joins is not: ``insert_zspage`` does
``list_add(&zspage->list, &class->fullness_list[fg])`` and the per-fullness stat, a plain
read-modify-write of ``class->fullness_list[fg]`` (and of the neighbour's ``prev``) that every
other list operation of the class does under ``class->lock`` (§1 a, §2.1 step 5): a
concurrent ``zs_free``'s ``fix_fullness_group`` moving another zspage of the class corrupts
the list.  Verdict: a real bug (a data race KCSAN reports).
"""
from model import V5
from model.pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE


class V5MallocInsertAfterUnlock(V5):
    def zs_malloc(self, size, key):
        handle = yield from self.cache_alloc_handle(key)
        cls = self.pool.class_for(size)
        yield cls.lock.acquire()
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
        self.pool.pages_allocated += cls.pages_per_zspage
        yield from self.class_stat_add(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
        cls.ghost_zspages.append(zspage)
        yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
        yield from self.SetZsPageMovable(zspage)
        yield cls.lock.release()
        yield from self.insert_zspage(cls, zspage, newfg)
        return handle
