"""The zspage lock, one implementation per protocol version (zsmalloc-protocol.md section 1).

* :class:`SpinCountLock` (c, 6.15): ``struct zspage_lock { spinlock_t lock; int cnt;
  struct lockdep_map dep_map; }``.  Readers take ``zsl->lock`` briefly to count
  themselves; the writer's trylock returns *holding* ``zsl->lock``, so a writer
  is atomic for its whole section (rules 1-5 of section 3).
* :class:`AtomicCountLock` (b, v5 of Feb 2025): an ``atomic_t``: 0 unlocked,
  -1 write-locked, n > 0 readers.  Readers spin while it is -1 and cmpxchg
  ``old -> old+1``; the writer disables preemption and cmpxchg ``0 -> -1``.
* :class:`MigrateRwLock` (a, 6.11-6.14): an ``rwlock_t`` taken blocking by
  readers (``migrate_read_lock``) and writers (``migrate_write_lock``).

(b) and (c) annotate a ``lockdep_map`` (a :class:`checker.LockMap` of class
``zspage->lock``) exactly where the kernel calls ``rwsem_acquire_read``,
``rwsem_acquire(..., trylock=1)`` and ``rwsem_release``.
"""

from __future__ import annotations

from dataclasses import dataclass

from checker import LockMap, Obj, RwLock, SpinLock, Var, preempt_disable, preempt_enable, shared_struct
from checker.atomics import ACQUIRE, RELEASE

ZS_PAGE_UNLOCKED = 0
ZS_PAGE_WRLOCKED = -1
ZSPAGE_LOCK_CLASS = "zspage->lock"


def _inc(v):
    return v + 1


def _dec(v):
    return v - 1


def _not_wrlocked(v):
    return v != ZS_PAGE_WRLOCKED


@shared_struct(owner="owner", const=("lock", "cnt", "dep_map"))
@dataclass(slots=True, eq=False)
class ZspageLock:
    """(c) ``struct zspage_lock``: inner spinlock, reader count, lockdep map.

    ``cnt`` is a Var guarded by ``zsl->lock`` (every access holds it, as in
    the kernel), so a reader's lock or unlock is one step that commutes with
    another reader's; a variant touching it without the spinlock breaks the
    declaration and is explored without that reduction.
    """

    lock: SpinLock
    cnt: Var
    dep_map: LockMap
    owner: Obj = None   # the zspage it is embedded in


@shared_struct(owner="owner", const=("cnt", "dep_map"))
@dataclass(slots=True, eq=False)
class AtomicZspageLock:
    """(b) the ``atomic_t`` zspage lock and its lockdep map."""

    cnt: Var
    dep_map: LockMap
    owner: Obj = None   # the zspage it is embedded in


def zspage_lock_left(zspage):
    """What a zspage lock that no task holds still records, or None when it is idle.

    For the end-of-execution check (invariant I2, :func:`model.invariants.end_problems`):
    the counter of (b) and (c) must be back at ``ZS_PAGE_UNLOCKED``.  The
    spinning locks themselves (``zsl->lock``, (a)'s rwlock) are engine locks
    that the lock-balance property already follows to their holder.  Plain
    (a check, not a kernel path).
    """
    cnt = getattr(zspage.zl, "cnt", None)
    if cnt is None or cnt.value == ZS_PAGE_UNLOCKED:
        return None
    what = "write-locked" if cnt.value == ZS_PAGE_WRLOCKED else f"counting {cnt.value} reader(s)"
    return (f"{zspage.name}'s zspage lock is left {what} (count {cnt.value}) though no task "
            f"holds it (I2)")


class SpinCountLock:
    """(c) zspage_read_lock / zspage_read_unlock / zspage_write_trylock / zspage_write_unlock."""

    def zspage_lock_init(self, zspage):
        """``zspage_lock_init`` (plain: the zspage is not yet visible)."""
        n = zspage.name
        z = zspage.obj
        lock = SpinLock(f"{n}.zsl->lock", "zsl->lock", owner=z)
        zspage.zl = ZspageLock(lock, Var(f"{n}.zsl.cnt", 0, counter=True, guard=lock, owner=z),
                               LockMap(f"{n}->lock", ZSPAGE_LOCK_CLASS, owner=z), z)

    def zspage_read_lock(self, zspage):
        """(c) ``rwsem_acquire_read(dep_map)``; ``spin_lock(zsl->lock)``; ``cnt++``; unlock."""
        zsl = zspage.zl
        yield zsl.dep_map.acquire(shared=True)
        yield zsl.lock.acquire()
        yield zsl.cnt.add(1)
        yield zsl.lock.release()

    def zspage_read_unlock(self, zspage):
        """(c) ``rwsem_release(dep_map)``; ``spin_lock(zsl->lock)``; ``cnt--``; unlock."""
        zsl = zspage.zl
        yield zsl.dep_map.release()
        yield zsl.lock.acquire()
        yield zsl.cnt.add(-1)
        yield zsl.lock.release()

    def zspage_write_trylock(self, zspage):
        """(c) ``spin_lock(zsl->lock)``; if ``cnt == 0``: ``cnt = -1``,
        ``rwsem_acquire(dep_map, trylock=1)``, return True **still holding zsl->lock**;
        else unlock and return False.
        """
        zsl = zspage.zl
        yield zsl.lock.acquire()
        cnt = yield zsl.cnt.read()
        if cnt == ZS_PAGE_UNLOCKED:
            yield zsl.cnt.write(ZS_PAGE_WRLOCKED)
            yield zsl.dep_map.try_acquire()
            return True
        yield zsl.lock.release()
        return False

    def zspage_write_unlock(self, zspage):
        """(c) ``rwsem_release(dep_map)``; ``cnt = 0``; ``spin_unlock(zsl->lock)``."""
        zsl = zspage.zl
        yield zsl.dep_map.release()
        yield zsl.cnt.write(ZS_PAGE_UNLOCKED)
        yield zsl.lock.release()


class AtomicCountLock:
    """(b) the v5 atomic-counter zspage lock.

    The kernel (v5 12/18) names the writer side ``zspage_try_write_lock``; the
    model uses the 6.15 name ``zspage_write_trylock`` for every version so that
    one override changes every caller.

    The orderings of v5's atomics (protocol §1 b, hazard 16), named once here;
    they matter under a weak memory model only (``--memory-model ra``,
    :mod:`checker.memory_model`): the reader's ``atomic_read_acquire`` and
    ``atomic_try_cmpxchg_acquire``, its ``atomic_dec_return_release``, the
    writer's ``atomic_try_cmpxchg_acquire`` and ``atomic_set_release``.
    """

    READ_LOCK_ORDER = ACQUIRE       # atomic_read_acquire, atomic_try_cmpxchg_acquire
    READ_UNLOCK_ORDER = RELEASE     # atomic_dec_return_release
    WRITE_LOCK_ORDER = ACQUIRE      # atomic_try_cmpxchg_acquire
    WRITE_UNLOCK_ORDER = RELEASE    # atomic_set_release

    def zspage_lock_init(self, zspage):
        """``zspage_lock_init`` (plain): counter 0 and the per-pool lockdep class."""
        n = zspage.name
        z = zspage.obj
        zspage.zl = AtomicZspageLock(Var(f"{n}->lock", ZS_PAGE_UNLOCKED, owner=z),
                                     LockMap(f"{n}.dep_map", ZSPAGE_LOCK_CLASS, owner=z), z)

    def zspage_read_lock(self, zspage):
        """(b) ``rwsem_acquire_read``; loop: spin while the counter is -1 (``cpu_relax``),
        then ``atomic_try_cmpxchg_acquire(old, old + 1)``.  Does not disable preemption.
        """
        zl = zspage.zl
        yield zl.dep_map.acquire(shared=True)
        while True:
            old = yield zl.cnt.spin_until(_not_wrlocked, self.READ_LOCK_ORDER)
            seen = yield zl.cnt.cmpxchg(old, old + 1, self.READ_LOCK_ORDER)
            if seen == old:
                return

    def zspage_read_unlock(self, zspage):
        """(b) ``rwsem_release``; ``atomic_dec_return_release``."""
        zl = zspage.zl
        yield zl.dep_map.release()
        yield zl.cnt.rmw(_dec, self.READ_UNLOCK_ORDER)

    def zspage_write_trylock(self, zspage):
        """(b) ``preempt_disable``; ``atomic_try_cmpxchg_acquire(0, -1)``: on success
        ``rwsem_acquire(trylock=1)`` and return True (preemption stays disabled);
        on failure ``preempt_enable`` and return False.
        """
        zl = zspage.zl
        yield preempt_disable()
        seen = yield zl.cnt.cmpxchg(ZS_PAGE_UNLOCKED, ZS_PAGE_WRLOCKED, self.WRITE_LOCK_ORDER)
        if seen == ZS_PAGE_UNLOCKED:
            yield zl.dep_map.try_acquire()
            return True
        yield preempt_enable()
        return False

    def zspage_write_unlock(self, zspage):
        """(b) ``rwsem_release``; ``atomic_set_release(0)``; ``preempt_enable``."""
        zl = zspage.zl
        yield zl.dep_map.release()
        yield zl.cnt.write(ZS_PAGE_UNLOCKED, self.WRITE_UNLOCK_ORDER)
        yield preempt_enable()


class MigrateRwLock:
    """(a) the legacy ``rwlock_t`` zspage lock and its blocking wrappers.

    6.11 has no ``zspage_read_lock``: ``zs_map_object`` and ``lock_zspage``
    call ``migrate_read_lock``.  The model's shared callers use the 6.15 name,
    which here delegates to the legacy function.
    """

    def zspage_lock_init(self, zspage):
        """``migrate_lock_init``: ``rwlock_init(&zspage->lock)`` (plain)."""
        zspage.zl = RwLock(f"{zspage.name}->lock", ZSPAGE_LOCK_CLASS, owner=zspage.obj)

    def migrate_read_lock(self, zspage):
        """(a) ``read_lock(&zspage->lock)``: spins while a writer holds it; atomic while held."""
        yield zspage.zl.acquire(shared=True)

    def migrate_read_unlock(self, zspage):
        """(a) ``read_unlock(&zspage->lock)``."""
        yield zspage.zl.release()

    def migrate_write_lock(self, zspage):
        """(a) ``write_lock(&zspage->lock)``: *blocking*, spins until mappers leave."""
        yield zspage.zl.acquire()

    def migrate_write_unlock(self, zspage):
        """(a) ``write_unlock(&zspage->lock)``."""
        yield zspage.zl.release()

    def zspage_read_lock(self, zspage):
        """(a) The 6.15 name for :meth:`migrate_read_lock`, used by the shared ``lock_zspage``
        (protocol §1 a, §2.6)."""
        yield from self.migrate_read_lock(zspage)

    def zspage_read_unlock(self, zspage):
        """(a) The 6.15 name for :meth:`migrate_read_unlock` (protocol §1 a)."""
        yield from self.migrate_read_unlock(zspage)
