"""Mutations of the locks themselves: zspage write lock stubs, a preemptible or blocking
writer, a sleeping class lock (section 2.7; catalogue #6, #14, #15, #27).

See :mod:`model.mutations` for the conventions.
"""

from __future__ import annotations

from checker import Mutex, Var

from ..versions import V5, Upstream
from ..zspage_lock import ZS_PAGE_UNLOCKED, ZS_PAGE_WRLOCKED
from ._register import _mutation


# -- #6 compaction without the zspage write lock ----------------------------------------
@_mutation("compact-skips-write-lock", "upstream", "no-free-while-mapped",
           "mm/zsmalloc: fix migrate_write_lock() when !CONFIG_COMPACTION, Chengming Zhou, Feb 2024 (6.9)",
           "zspage_write_trylock always succeeds without touching the counter")
class CompactSkipsWriteLock(Upstream):
    """Bug #6 (section 4): the zspage write-lock functions are empty stubs, so compaction
    and migration move objects under a reader holding the read lock (I2/I3).

    Must violate: ``no-free-while-mapped``, found in scenario ``up-read-compact`` at depth 1.
    """

    def zspage_write_trylock(self, zspage):
        """``zspage_write_trylock`` as the !CONFIG_COMPACTION stub: always "succeeds"."""
        return True
        yield  # unreachable: makes this a generator like the function it replaces

    def zspage_write_unlock(self, zspage):
        """``zspage_write_unlock`` stub: nothing to release."""
        return
        yield


# -- #14 preemptible writer (v5) -------------------------------------------------------
@_mutation("preemptible-writer", "v5", "writers-never-block",
           "v4/v5 review of 'zsmalloc/zram: there be preemption', Feb 2025 (writers are atomic)",
           "v5 zspage_write_trylock without preempt_disable: a reader spins on a preempted writer")
class PreemptibleWriter(V5):
    """Hazard #14 (section 4): the v5 writer does not disable preemption, so on one CPU a
    reader spins forever in ``zspage_read_lock`` on a writer preempted in its section.

    Must violate: ``writers-never-block``, found in scenario ``up-read-migrate`` at depth 1.
    """

    def zspage_write_trylock(self, zspage):
        """(b) ``atomic_try_cmpxchg_acquire(0, -1)`` without ``preempt_disable``."""
        zl = zspage.zl
        seen = yield zl.cnt.cmpxchg(ZS_PAGE_UNLOCKED, ZS_PAGE_WRLOCKED)
        if seen == ZS_PAGE_UNLOCKED:
            yield zl.dep_map.try_acquire()
            return True
        return False

    def zspage_write_unlock(self, zspage):
        """(b) ``rwsem_release``; ``atomic_set_release(0)``; no ``preempt_enable``."""
        zl = zspage.zl
        yield zl.dep_map.release()
        yield zl.cnt.write(ZS_PAGE_UNLOCKED)


# -- #15 blocking writer ---------------------------------------------------------------
def _unlocked(v):
    return v == ZS_PAGE_UNLOCKED


@_mutation("blocking-writer", "upstream", "deadlock",
           "protocol §4 #15 (review of the preemptible zspage lock series, 2025)",
           "zspage_write_trylock spins until the readers are gone instead of failing")
class BlockingWriter(Upstream):
    """Hazard #15 (section 4): the writer waits for ``cnt == 0`` in atomic context (pool W
    and class lock held) for as long as a (sleeping) reader holds the read lock.

    Must violate: ``deadlock``, found in scenario ``up-read-compact`` at depth 1.
    """

    def zspage_lock_init(self, zspage):
        """The counter is read without ``zsl->lock`` here, so it is no guarded
        counter: a plain Var (its additions are ordered, and it can be waited on)."""
        super().zspage_lock_init(zspage)
        zl = zspage.zl
        zl.cnt = Var(zl.cnt.name, ZS_PAGE_UNLOCKED)

    def zspage_write_trylock(self, zspage):
        """(c) write "trylock" that spins on the counter (under no inner lock) until free."""
        zsl = zspage.zl
        while True:
            yield zsl.cnt.spin_until(_unlocked)
            yield zsl.lock.acquire()
            cnt = yield zsl.cnt.read()
            if cnt == ZS_PAGE_UNLOCKED:
                yield zsl.cnt.write(ZS_PAGE_WRLOCKED)
                yield zsl.dep_map.try_acquire()
                return True
            yield zsl.lock.release()


# -- #27 sleeping class lock --------------------------------------------------------------
@_mutation("sleeping-class-lock", "upstream", "sleep-in-atomic",
           "RFC 'zsmalloc/zram: there be preemption', Jan 2025 (rejected by Yosry Ahmed)",
           "class->lock is a sleeping mutex, taken inside the spinning pool->lock")
class SleepingClassLock(Upstream):
    """Hazard #27 (section 4): a preemptible ``class->lock`` is taken with ``pool->lock``
    (a spinning rwlock) held: sleeping in atomic context.

    Must violate: ``sleep-in-atomic``, found in scenario ``smoke`` at depth 1.
    """

    def zs_create_pool(self, name="zram0", geometries=None, ncpus=1, frames=0):
        """``zs_create_pool`` with ``mutex_init(&class->lock)``."""
        pool = super().zs_create_pool(name, geometries, ncpus, frames)
        for cls in pool.size_class:
            cls.lock = Mutex(f"class[{cls.index}]->lock", "class->lock")
        return pool
