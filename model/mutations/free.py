"""Mutations of zs_free and free_zspage: hand-over-hand and page-lock mutations (sections 2.2,
2.6; catalogue #1, #18, #23).

See :mod:`model.mutations` for the conventions.
"""

from __future__ import annotations

from checker import Bug, label

from ..pool import ZS_INUSE_RATIO_0, ZS_OBJS_INUSE
from ..versions import Upstream
from ._register import _mutation


# -- #18 hand-over-hand ---------------------------------------------------------------
@_mutation("free-drops-pool-lock-early", "upstream", "bug",
           "protocol §4 #18 (hand-over-hand; the guarantee pin_tag gave before 5.17)",
           "zs_free releases pool->lock before taking class->lock")
class FreeDropsPoolLockEarly(Upstream):
    """Hazard #18 (section 4): ``zs_free`` drops ``R(pool)`` before ``S(class)``.

    In the gap compaction moves the object and frees the source zspage, so
    ``obj_free`` works on a stale location.

    Must violate: ``bug`` (a model BUG_ON), found in scenario ``read-compact`` at depth 1.
    """

    def zs_free(self, handle):
        """``zs_free`` (2.2) with ``R(pool)`` released before ``S(class)``."""
        pool = self.pool
        yield pool.lock.acquire(shared=True)
        yield label("zs_free")
        obj = yield from self.handle_to_obj(handle)
        zspage = yield from self.get_zspage(obj[0])
        cls = zspage.cls
        yield pool.lock.release()           # the bug: nothing pins the location now
        yield cls.lock.acquire()
        yield from self.class_stat_sub(cls, ZS_OBJS_INUSE, 1)
        yield from self.obj_free(cls, obj)
        fullness = yield from self.fix_fullness_group(cls, zspage)
        if fullness == ZS_INUSE_RATIO_0:
            yield from self.free_zspage(cls, zspage)
        yield cls.lock.release()
        yield from self.cache_free_handle(handle)


# -- #1 zs_free reads the handle without pool->lock ----------------------------------------
@_mutation("free-without-pool-lock", "upstream", "bug",
           "zsmalloc: fix migrate_zspage-zs_free race condition, Junil Lee, Jan 2016, c102f07ca0b0",
           "zs_free looks the handle up without pool->lock, racing with compaction")
class FreeWithoutPoolLock(Upstream):
    """Bug #1 (section 4), read side: ``zs_free`` derives the location with no lock that
    excludes compaction, which moves the object and frees its source zspage before
    ``obj_free`` (I1).

    Must violate: ``bug`` (a model BUG_ON), found in scenario ``read-compact`` at depth 1.
    """

    def zs_free(self, handle):
        """``zs_free`` (2.2) with no ``R(pool)`` around the handle lookup."""
        yield label("zs_free")
        obj = yield from self.handle_to_obj(handle)
        if not obj:
            raise Bug(f"zs_free: handle {handle.key} holds no location")
        zspage = yield from self.get_zspage(obj[0])
        cls = zspage.cls
        yield cls.lock.acquire()
        yield from self.class_stat_sub(cls, ZS_OBJS_INUSE, 1)
        yield from self.obj_free(cls, obj)
        fullness = yield from self.fix_fullness_group(cls, zspage)
        if fullness == ZS_INUSE_RATIO_0:
            yield from self.free_zspage(cls, zspage)
        yield cls.lock.release()
        yield from self.cache_free_handle(handle)


# -- #23 free without the page locks -------------------------------------------------------
@_mutation("free-without-page-locks", "upstream", "bug",
           "protocol §4 #23 (page-lock dependency of zs_page_migrate; Chengming's RCU proposal, Feb 2024)",
           "free_zspage frees the zspage without trylock_zspage")
class FreeWithoutPageLocks(Upstream):
    """Hazard #23 (section 4): ``__free_zspage`` runs without the page locks, which
    ``zs_page_migrate`` relies on to dereference ``zpdesc->zspage``; the model's
    ``VM_BUG_ON_PAGE(!zpdesc_is_locked)`` catches it (I4).

    Must violate: ``bug`` (a model BUG_ON), found in scenario ``smoke`` at depth 1.
    """

    def free_zspage(self, cls, zspage):
        """``free_zspage`` (2.6) that skips ``trylock_zspage``."""
        yield zspage.obj.access(marked=False)
        yield from self.remove_zspage(cls, zspage)
        yield from self._free_zspage(cls, zspage)
