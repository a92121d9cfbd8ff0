"""The "recently freed" debugging list of free_recent_list_lazy.py as a new struct:

    struct zs_recent { struct list_head head; };    /* pool->recent, set up in zs_create_pool */

    spin_unlock(&class->lock);
    list_add(&rec->node, &pool->recent->head);      /* no lock */

The author first wrote ``@dataclass class ZsRecent: head: list`` and stored it in
``pool.extra``; zsmc refused it ("a ZsRecent is not memory the engine can see; make it a
checker.shared_struct, a frozen dataclass or a tuple"), so the struct became
``@dataclass(frozen=True)`` (the pointer to the list head never changes, only the list).

Verdict decided from the protocol document before running zsmc: REAL BUG, the same one as
free_recent_list_lazy.py: two zs_free calls on two CPUs list_add to one list head with no
lock (§2.2: zs_free holds nothing by then; §3), which corrupts the list and is a data race
by KCSAN's rule.
"""
from dataclasses import dataclass

from checker import Bug, label
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_OBJS_INUSE


@dataclass(frozen=True)
class ZsRecent:
    head: list


class FreeRecentFrozenStruct(Upstream):
    def zs_create_pool(self, *args, **kwargs):
        pool = super().zs_create_pool(*args, **kwargs)
        pool.extra["recent"] = ZsRecent([])
        return pool

    def zs_free(self, handle):
        pool = self.pool
        yield pool.lock.acquire(shared=True)
        yield label("zs_free")
        obj = yield from self.handle_to_obj(handle)
        if not obj:
            raise Bug(f"zs_free: handle {handle.key} holds no location")
        zspage = yield from self.get_zspage(self.obj_to_zpdesc(obj))
        cls = zspage.cls
        yield cls.lock.acquire()
        yield pool.lock.release()
        yield from self.class_stat_sub(cls, ZS_OBJS_INUSE, 1)
        yield from self.obj_free(cls, obj)
        fullness = yield from self.fix_fullness_group(cls, zspage)
        if fullness == ZS_INUSE_RATIO_0:
            yield from self.free_zspage(cls, zspage)
        yield cls.lock.release()
        pool.extra["recent"].head.insert(0, handle.key)     # list_add, no lock
        yield from self.cache_free_handle(handle)
