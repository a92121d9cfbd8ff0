"""Mutations of __zs_compact: stale src, class->lock dropped while isolated, write lock across
resched (section 2.4; catalogue #11, #21, #22).

See :mod:`model.mutations` for the conventions.
"""

from __future__ import annotations

from checker import cond_resched, label

from ..pool import ZS_INUSE_RATIO_0, ZS_INUSE_RATIO_100
from ..versions import Upstream
from ._register import _mutation


# -- #11 compaction keeps a stale src --------------------------------------------------
@_mutation("compact-keeps-src", "upstream", "no-free-while-mapped",
           "zsmalloc: reset compaction source zspage pointer after putback_zspage(), "
           "Sergey Senozhatsky, Apr 2023, f7ddb6125683",
           "__zs_compact does not reset src after putting it back (and maybe freeing it)")
class CompactKeepsSrc(Upstream):
    """Bug #11 (section 4): step 2.4-g (``src = NULL``) dropped; on loop exit the
    compactor puts back a zspage it already freed.

    Must violate: ``no-free-while-mapped``, found in scenario ``smoke`` at depth 1.
    """

    def _zs_compact(self, cls):
        """``__zs_compact`` (2.4) without ``src = NULL`` after the putback."""
        pool = self.pool
        src = dst = None
        freed = 0
        yield pool.lock.acquire()
        yield cls.lock.acquire()
        yield label("__zs_compact")
        while (yield from self.zs_can_compact(cls)):
            if dst is None:
                dst = yield from self.isolate_dst_zspage(cls)
                if dst is None:
                    break
            src = yield from self.isolate_src_zspage(cls)
            if src is None:
                break
            if not (yield from self.zspage_write_trylock(src)):
                break
            yield from self.migrate_zspage(src, dst)
            yield from self.zspage_write_unlock(src)
            fg = yield from self.putback_zspage(cls, src)
            if fg == ZS_INUSE_RATIO_0:
                yield from self.free_zspage(cls, src)
                freed += cls.pages_per_zspage
            # the bug: src is not reset here
            yield dst.obj.access(marked=False)
            if (self.get_fullness_group(cls, dst) == ZS_INUSE_RATIO_100
                    or self.rwlock_is_contended(pool.lock)):
                yield from self.putback_zspage(cls, dst)
                dst = None
                yield cls.lock.release()
                yield pool.lock.release()
                yield cond_resched()
                yield pool.lock.acquire()
                yield cls.lock.acquire()
        if src is not None:
            yield from self.putback_zspage(cls, src)
        if dst is not None:
            yield from self.putback_zspage(cls, dst)
        yield cls.lock.release()
        yield pool.lock.release()
        return freed


# -- #22 class->lock dropped while src/dst are isolated ------------------------------------
@_mutation("compact-unlocks-isolated", "upstream", "pool-consistency",
           "protocol §4 #22 (Minchan: isolation 'couldn't prevent object freeing from zspage')",
           "__zs_compact reschedules with dst still isolated (off every fullness list)")
class CompactUnlocksIsolated(Upstream):
    """Hazard #22 (section 4): the resched block drops ``class->lock`` before putting dst
    back, so others see a zspage on no fullness list (I5).

    Must violate: ``pool-consistency``, found in scenario ``smoke`` at depth 1.
    """

    def _zs_compact(self, cls):
        """``__zs_compact`` (2.4) with ``putback_zspage(dst)`` after the resched."""
        pool = self.pool
        src = dst = None
        freed = 0
        yield pool.lock.acquire()
        yield cls.lock.acquire()
        yield label("__zs_compact")
        while (yield from self.zs_can_compact(cls)):
            if dst is None:
                dst = yield from self.isolate_dst_zspage(cls)
                if dst is None:
                    break
            src = yield from self.isolate_src_zspage(cls)
            if src is None:
                break
            if not (yield from self.zspage_write_trylock(src)):
                break
            yield from self.migrate_zspage(src, dst)
            yield from self.zspage_write_unlock(src)
            fg = yield from self.putback_zspage(cls, src)
            if fg == ZS_INUSE_RATIO_0:
                yield from self.free_zspage(cls, src)
                freed += cls.pages_per_zspage
            src = None
            yield dst.obj.access(marked=False)
            if self.get_fullness_group(cls, dst) == ZS_INUSE_RATIO_100:
                yield cls.lock.release()        # the bug: dst is still isolated
                yield pool.lock.release()
                yield cond_resched()
                yield pool.lock.acquire()
                yield cls.lock.acquire()
                yield from self.putback_zspage(cls, dst)
                dst = None
        if src is not None:
            yield from self.putback_zspage(cls, src)
        if dst is not None:
            yield from self.putback_zspage(cls, dst)
        yield cls.lock.release()
        yield pool.lock.release()
        return freed


# -- #21 zspage write lock held across the pool-lock drop (ABBA) ----------------------------
@_mutation("compact-holds-write-lock-across-resched", "upstream", "lock-order",
           "protocol §4 #21 (lock order of the 6.15 zspage lock)",
           "__zs_compact keeps src write-locked across its cond_resched")
class CompactHoldsWriteLockAcrossResched(Upstream):
    """Hazard #21 (section 4): ``ZWU(src)`` moved after the resched block.  The writer
    re-takes ``pool->lock`` (W) holding ``zsl->lock``, while a reader holding ``pool->lock``
    (R) spins on ``zsl->lock``: ABBA.  (src may also be freed while write-locked.)

    Must violate: ``lock-order``, found in scenario ``smoke`` at depth 1.
    """

    def _zs_compact(self, cls):
        """``__zs_compact`` (2.4) with ``ZWU(src)`` after ``cond_resched``."""
        pool = self.pool
        src = dst = None
        freed = 0
        yield pool.lock.acquire()
        yield cls.lock.acquire()
        yield label("__zs_compact")
        while (yield from self.zs_can_compact(cls)):
            if dst is None:
                dst = yield from self.isolate_dst_zspage(cls)
                if dst is None:
                    break
            src = yield from self.isolate_src_zspage(cls)
            if src is None:
                break
            if not (yield from self.zspage_write_trylock(src)):
                break
            yield from self.migrate_zspage(src, dst)
            locked = src
            fg = yield from self.putback_zspage(cls, src)
            if fg == ZS_INUSE_RATIO_0:
                yield from self.free_zspage(cls, src)
                freed += cls.pages_per_zspage
            src = None
            yield dst.obj.access(marked=False)
            if self.get_fullness_group(cls, dst) == ZS_INUSE_RATIO_100:
                yield from self.putback_zspage(cls, dst)
                dst = None
                yield cls.lock.release()
                yield pool.lock.release()
                yield cond_resched()
                yield pool.lock.acquire()
                yield cls.lock.acquire()
            yield from self.zspage_write_unlock(locked)     # the bug: after the resched
        if src is not None:
            yield from self.putback_zspage(cls, src)
        if dst is not None:
            yield from self.putback_zspage(cls, dst)
        yield cls.lock.release()
        yield pool.lock.release()
        return freed
