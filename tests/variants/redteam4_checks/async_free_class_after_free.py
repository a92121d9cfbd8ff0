"""async_free_zspage without its local ``class``: a cleanup patch that drops the local and
writes ``zspage_class(pool, zspage)`` at each use, including the final
``spin_unlock(&zspage_class(pool, zspage)->lock)`` *after* ``__free_zspage``.

    lock_zspage(zspage);
    spin_lock(&zspage_class(pool, zspage)->lock);
    class_stat_sub(zspage_class(pool, zspage), ZS_INUSE_RATIO_0, 1);
    __free_zspage(pool, zspage_class(pool, zspage), zspage);
    spin_unlock(&zspage_class(pool, zspage)->lock);      /* zspage was freed */

Verdict decided from the protocol document before running zsmc: REAL BUG.
§2.2 step 7 / §2.6: ``__free_zspage`` ends with ``cache_free_zspage`` (the zspage struct
goes back to its kmem_cache); ``zspage->class`` is a field of that struct (Terminology:
"Fields that matter: ... class"), so reading it afterwards is a use after free (KASAN
slab-use-after-free; with slab poisoning the class index is garbage and the wrong or no
spinlock is released: a lock-balance / deadlock consequence).  I4 and bug #11's
invariant ("after free_zspage no reference to that zspage survives").
The model keeps ``Zspage.cls`` as a *const* field: the theme is whether the engine's
use-after-free check covers a const field of a freed struct.
"""
from checker import SharedList, label
from model import Upstream
from model.pool import DEFERRED, FREEING, ZS_INUSE_RATIO_0


class AsyncFreeClassAfterFree(Upstream):
    def async_free_zspage(self):
        pool = self.pool
        for cls in pool.size_class:
            yield cls.lock.acquire()
            yield label("async_free_zspage")
            yield cls.obj.access(write=True)
            spliced = cls.fullness_list[ZS_INUSE_RATIO_0]
            cls.fullness_list[ZS_INUSE_RATIO_0] = SharedList()
            for zspage in spliced:
                yield zspage.obj.access(write=True)
                zspage.list = DEFERRED
            pool.deferred.extend(spliced)
            yield cls.lock.release()
        while pool.deferred:
            zspage = pool.deferred[0]
            yield zspage.obj.access(write=True)     # list_del
            pool.deferred.remove(zspage)
            zspage.list = FREEING
            yield from self.lock_zspage(zspage)
            yield zspage.cls.lock.acquire()
            yield from self.class_stat_sub(zspage.cls, ZS_INUSE_RATIO_0, 1)
            yield from self._free_zspage(zspage.cls, zspage)
            yield zspage.cls.lock.release()         # zspage_class() of a freed zspage
