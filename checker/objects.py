"""Shared objects: variables, lifetime-tracked objects and kernel locks.

A program's ``build()`` creates them afresh for every execution, and tasks may
create more while they run (a zspage allocated by ``zs_malloc`` comes with its
own lock).  Each object gets a *uid* that is stable across executions: objects
made by ``build()`` are numbered in creation order, objects made by a task are
numbered per task (``(task, k)``), so the same step of the same task creates
the same uid whatever the interleaving.  The search compares footprints of
different executions by these uids.

Lock kinds follow the kernel (ARCHITECTURE.md section 2):

===================  =========  ========  ==========================================
class                spinning   shared    kernel type
===================  =========  ========  ==========================================
:class:`RawSpinLock` yes        no        ``raw_spinlock_t`` (raises the preempt count)
:class:`SpinLock`    !RT        no        ``spinlock_t`` (on !RT raises the preempt count)
:class:`RwLock`      !RT        yes       ``rwlock_t`` (on !RT raises the preempt count)
:class:`LocalLock`   !RT        no        ``local_lock_t``: ``preempt_disable`` on !RT,
                                          a per-CPU sleeping lock on RT
:class:`Mutex`       no         no        ``struct mutex`` (waiting sleeps)
:class:`RwSemaphore` no         yes       ``struct rw_semaphore``
:class:`PageLock`    no         no        ``PG_locked`` (not tracked by lockdep)
:class:`LockMap`     n/a        yes       a bare ``lockdep_map``: annotation only,
                                          never waits (for locks a model builds
                                          from primitives, like the zspage lock)
===================  =========  ========  ==========================================

"!RT": spinning on a !PREEMPT_RT kernel, sleeping on PREEMPT_RT (the
program's ``config``, :mod:`checker.config`).
"""

from __future__ import annotations

import contextvars
import itertools
from contextlib import contextmanager

from . import actions as A
from . import config as _config
from . import memory as _memory
from .errors import ModelError
from .memory import check_shareable
from .memory_model import ORDERS as _ORDERS

_global_uids = itertools.count()


class Making:
    """Who numbers the objects being made (a build, or a World once its tasks
    run), and how many guarded Vars were declared meanwhile."""

    __slots__ = ("uid", "guards")

    def __init__(self, uid):
        self.uid = uid          # () -> the next uid
        self.guards = 0


# A context variable, not a module global: an exploration in another thread,
# or one nested in a build function, numbers its own objects.
_making = contextvars.ContextVar("zsmc_making", default=None)


@contextmanager
def making(uid=None):
    """Objects made inside are numbered by ``uid()`` (None: by nobody, until a
    World takes over); what was numbering before is restored on exit."""
    m = Making(uid) if uid is not None else None
    token = _making.set(m)
    try:
        yield m
    finally:
        _making.reset(token)


def made_by_world(uid) -> None:
    """From now on, in this context, objects are numbered by a World's ``uid()``
    (until the enclosing :func:`making` ends)."""
    _making.set(Making(uid))


def _new_uid():
    m = _making.get()
    if m is None:
        return ("g", next(_global_uids))
    return m.uid()


class Shared:
    """Base of every object an action can name.

    ``owner``: the :class:`Obj` whose memory this object lives in (a page's
    lock lives in the page, a zspage's lock and counter in the zspage), or
    None.  An operation on it while the owner is freed is a use after free,
    and its footprint reads the owner's lifetime so that the search orders it
    against the free.
    """

    __slots__ = ("name", "uid", "owner")
    __zsmc_shared__ = True

    def __init__(self, name: str, owner=None):
        if not isinstance(name, str) or not name:
            raise ModelError(f"a shared object needs a non-empty name, got {name!r}")
        if owner is not None and not isinstance(owner, Obj):
            raise ModelError(f"{name}: owner= must be a checker.Obj, got {owner!r}")
        self.name = name
        self.uid = _new_uid()
        self.owner = owner

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class Var(Shared):
    """A shared memory location.  ``value`` is its current value.

    Task code reads and writes it with actions (``yield v.read()``); reading
    ``v.value`` directly inside a step is recorded as a plain read (it is in
    the step's footprint), and writing it directly is refused: the write would
    bypass the history the search keeps of the variable.
    """

    __slots__ = ("_value", "initial", "counter", "guard", "keeps")

    def __init__(self, name: str, value=0, counter: bool = False, guard=None, owner=None,
                 keeps=None):
        """``counter``: a count nobody waits on (a refcount, a statistic), so
        that :meth:`add` steps commute; ``spin_until`` on it is refused.

        ``keeps``: the :class:`Obj` this count's references keep alive (a page's
        refcount keeps the page frame): the puts that free it name it
        (``add(-1, frees=...)``).  A task's reads of the object while it holds a
        reference it took itself are then independent of other tasks' puts
        (docs/design.md, "Reads under a reference"); the World checks on every
        step that the references tasks hold are there (``checker.refs``).

        ``guard``: the lock every access holds exclusively (the kernel's
        ``__guarded_by``), which must never be trylocked.  With it, ``dpor``
        runs a critical section's guarded accesses and its release as one
        step with its start (Lipton's reduction: an acquire moves right, a
        guarded access both ways, a release left), and two sections that
        leave the lock as they found it commute unless their data conflict.
        The engine checks the declaration on every step; a broken one makes
        the search start again without the reduction.
        """
        super().__init__(name, owner)
        check_shareable(value, f"Var {name}")
        self._value = value
        self.initial = value
        self.counter = bool(counter)
        self.keeps = None
        if keeps is not None:
            if not isinstance(keeps, Obj) or keeps.permanent or keeps.kept_by is not None:
                raise ModelError(f"Var {name}: keeps= must be an Obj that can be freed and that no "
                                 f"other count keeps, got {keeps!r}")
            self.keeps = keeps
            keeps.kept_by = self
            keeps.mem_uid = ("mem", keeps.uid)
        if guard is not None:
            if not isinstance(guard, Lock) or not guard.blocking:
                raise ModelError(f"Var {name}: guard= must be a lock, got {guard!r}")
            guard.guards = True
            m = _making.get()
            if m is not None:
                m.guards += 1
        self.guard = guard

    @property
    def value(self):
        rec = _memory._tls.rec
        if rec is not None:
            rec.touch_shared(self, A.R, self._value)
        return self._value

    @value.setter
    def value(self, v):
        if _memory._tls.rec is not None:
            raise ModelError(f"task code writes {self.name}.value directly; write it with "
                             f"`yield {self.name}.write(v)` so the search sees the write")
        check_shareable(v, f"Var {self.name}")
        self._value = v

    # ``order``: the kernel's memory ordering of the access (checker.memory_model:
    # RELAXED, ACQUIRE, RELEASE, FULL; None: unannotated), read by a weak model only.
    def read(self, order=None) -> A.Action:
        if order is not None:
            _check_order(order, self.name)
        return A.Action(A.READ, self, order=order)

    def write(self, value, order=None) -> A.Action:
        if order is not None:
            _check_order(order, self.name)
        return A.Action(A.WRITE, self, value, order=order)

    def rmw(self, fn, order=None) -> A.Action:
        """Atomic ``v = fn(v)``; the result is the old value."""
        if order is not None:
            _check_order(order, self.name)
        return A.Action(A.RMW, self, fn, order=order)

    def add(self, delta: int, frees=None, on_free=None, order=None) -> A.Action:
        """Atomic ``v += delta`` whose result the task does not see: ``atomic_inc``,
        ``get_page``, ``cnt++`` under a lock.  On a ``counter`` Var, additions
        commute with each other, and puts (``frees=``) with each other
        (elsewhere an addition is a plain write).  A counter that some task
        waits on (``spin_until``, a spin loop) cannot keep that: a wait
        races with every addition, and a search that reverses one race at a
        time would move the other additions before the wait as well, where it
        cannot run (``bench.fuzz_dpor`` found the program).  So the first
        wait on a counter makes ``explore`` start again with every addition
        a plain write (``World.counters``), and say so in ``Result.note``.

        ``frees``: an :class:`Obj` this count keeps alive (``put_page``): the
        step that brings the value to 0 frees it.  ``on_free()`` is its check
        (it may raise :class:`~checker.world.Bug`, e.g. "Bad page state"): it
        must have no side effect, because it runs on *every* put, so that the
        memory it reads is in every put's footprint whichever put turns out
        to be the last; only the last one's verdict counts.
        With ``frees``, a value below 0 is reported as a BUG (underflow).
        """
        if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0:
            raise ModelError(f"add on {self.name} needs a non-zero integer, got {delta!r}")
        if frees is not None and not isinstance(frees, Obj):
            raise ModelError(f"add on {self.name}: frees= must be an Obj, got {frees!r}")
        if frees is not None and self.keeps is not None and frees is not self.keeps:
            raise ModelError(f"add on {self.name}: frees={frees.name}, but the count keeps "
                             f"{self.keeps.name} alive (Var(keeps=...))")
        if order is not None:
            _check_order(order, self.name)
        return A.Action(A.ADD, self, delta, (frees, on_free) if frees is not None else None,
                        order=order)

    def cmpxchg(self, old, new, order=None) -> A.Action:
        """Kernel ``cmpxchg``: store ``new`` if the value is ``old``; result: the old value."""
        if order is not None:
            _check_order(order, self.name)
        return A.Action(A.CMPXCHG, self, old, new, order=order)

    def spin_until(self, pred, order=None) -> A.Action:
        """Busy-wait, keeping the CPU, until ``pred(value)``; result: the value."""
        if not callable(pred):
            raise ModelError(f"spin_until on {self.name} needs a callable predicate, got {pred!r}")
        if order is not None:
            _check_order(order, self.name)
        return A.Action(A.SPIN, self, pred, order=order)


class Obj(Shared):
    """An object whose lifetime the properties watch (a zspage, a page, a handle).

    ``alive`` is its state; ``pins`` maps task index to the number of live
    mappings that task holds on it.  Pins have a footprint of their own
    (``pin_uid``, the object's *lifetime*): a mapping matters to the object's
    free and allocation, which touch both, not to accesses of its memory.
    Every other use of memory that lives in the object (a field, an embedded
    lock) reads the lifetime too (:mod:`checker.memory`).
    """

    __slots__ = ("alive", "pins", "data", "pin_uid", "permanent", "locks", "parts", "kept_by",
                 "mem_uid")

    def __init__(self, name: str, alive: bool = True, data=None, permanent: bool = False,
                 parts=()):
        """``permanent``: never freed (a ``struct page`` descriptor, a size class):
        uses of its memory need not read its lifetime.

        ``parts``: Objs holding some of this one's fields in footprints of their
        own, so that a step declaring only a part (``create_page_chain``
        rewriting a page's chain words) is independent of one that reads the
        rest.  Declaring the whole (``access()`` on this Obj) declares every
        part too: code written against the whole stays covered."""
        super().__init__(name, None)
        self.permanent = bool(permanent)
        self.parts = tuple(parts)
        for p in self.parts:
            # A part's memory is freed with the whole's; only never-freed ones are
            # modelled (a part with a lifetime of its own would need the whole's).
            if not isinstance(p, Obj) or p.parts or not (p.permanent and self.permanent):
                raise ModelError(f"{name}: parts= takes permanent Objs without parts of their "
                                 f"own, of a permanent Obj; got {p!r}")
        self.locks = ()         # the locks that live in it (Lock(owner=...))
        # The count whose references keep it alive (Var(keeps=...)), and then the
        # footprint of its memory apart from its lifetime (``uid``), which a read
        # under a reference does not touch.
        self.kept_by = None
        self.mem_uid = None
        self.alive = alive
        self.pins = {}
        self.data = data
        self.pin_uid = _new_uid()

    def alloc(self) -> A.Action:
        return A.alloc(self)

    def free(self) -> A.Action:
        return A.free(self)

    def access(self, write: bool = False, marked=None) -> A.Action:
        """A step that reads (or, ``write``, writes) this object's memory: the fields
        that follow it until the next yield are declared (checker.memory).
        ``marked``: True for the kernel's ``READ_ONCE``/``WRITE_ONCE``/``data_race()``
        (a list helper's ``READ_ONCE(head->next)``), False for a plain C access; None
        (a bare ``access()``): a read is marked, a write plain (checker.actions.access)."""
        return A.access(self, write, self.parts, marked)

    def pin(self) -> A.Action:
        return A.pin(self)

    def unpin(self) -> A.Action:
        return A.unpin(self)


class Lock(Shared):
    """Base of the lock kinds.  Holder state lives on the object during an execution.

    invariant: ``writer is None or not readers`` (unless the lock is a LockMap,
    which only records and never excludes).
    """

    __slots__ = ("cls", "_writer", "_readers", "guards")

    kind = "lock"
    spinning = False
    # A spinlock on !PREEMPT_RT that sleeps on RT (spinlock_t, rwlock_t,
    # local_lock_t): its holders never sleep of their own accord, and on RT a
    # waiter blocks with priority inheritance (checker.config).
    sleeps_on_rt = False
    rw = False
    blocking = True       # False: annotation only, acquisition never waits
    lockdep = True        # tracked by lockdep's lock-order checks
    # lockdep's recursive read: a shared acquisition that never waits for a
    # queued writer (read_lock in interrupt context, or a non-queued rwlock).
    # Process-context read_lock on a qrwlock and down_read are not recursive.
    recursive_read = False

    def __init__(self, name: str, cls: str | None = None, owner=None):
        super().__init__(name, owner)
        if owner is not None:
            owner.locks = owner.locks + (self,)
        self.cls = cls or name
        self._writer = None
        self._readers = {}
        self.guards = False     # some Var names it as its guard

    # Who holds the lock.  Task code reading these (``assert_spin_locked``,
    # ``spin_is_locked``) reads the lock: the read is in the step's footprint,
    # unless the task holds the lock for write, which fixes what it reads.
    @property
    def writer(self):
        rec = _memory._tls.rec
        if rec is not None and self._writer != rec.task:
            rec.touch_shared(self, A.R, self.state())
        return self._writer

    @property
    def readers(self):
        rec = _memory._tls.rec
        if rec is not None and self._writer != rec.task:
            rec.touch_shared(self, A.R, self.state())
        return dict(self._readers)

    def is_locked(self) -> bool:
        """``spin_is_locked``: whether some task holds it (a plain read of the lock)."""
        return self.writer is not None or bool(self.readers)

    def acquire(self, shared: bool = False, nested: int = 0) -> A.Action:
        """Take the lock, waiting (spinning or sleeping by kind) while it is held.

        ``nested`` is lockdep's subclass (``spin_lock_nested``), which allows
        holding two locks of one class.
        """
        if shared and not self.rw:
            raise ModelError(f"{self.kind} {self.name} has no shared mode")
        return A.Action(A.ACQUIRE, self, bool(shared), nested)

    def try_acquire(self, shared: bool = False) -> A.Action:
        """Take the lock if it is free; the result says whether it was taken."""
        if shared and not self.rw:
            raise ModelError(f"{self.kind} {self.name} has no shared mode")
        return A.Action(A.TRYLOCK, self, bool(shared), 0)

    def release(self) -> A.Action:
        return A.Action(A.RELEASE, self)

    def wait_unlocked(self) -> A.Action:
        """Wait (spinning or sleeping by kind) until no task holds the lock for
        write, without taking it: ``folio_wait_locked``, ``spin_unlock_wait``.
        Waits commute with each other; a waiter never makes a trylock fail."""
        if not self.blocking:
            raise ModelError(f"{self.kind} {self.name} is an annotation: nothing to wait for")
        return A.Action(A.WAIT, self, True)

    # -- engine helpers (not part of the model-facing API) --------------------
    def state(self):
        """An immutable snapshot of who holds the lock."""
        if self._readers:
            return (self._writer, tuple(sorted(self._readers.items())))
        return (self._writer, ())

    def available(self, task: int, shared: bool) -> bool:
        if not self.blocking:
            return True
        if self._writer is not None:
            return False
        if shared:
            return True
        return not self._readers

    @staticmethod
    def available_in(state, shared: bool) -> bool:
        writer, readers = state
        if writer is not None:
            return False
        return shared or not readers

    def holds(self, task: int) -> bool:
        return self._writer == task or task in self._readers


def _check_order(order, name) -> None:
    if order not in _ORDERS:
        raise ModelError(f"{name}: unknown memory ordering {order!r}; known: {', '.join(_ORDERS)}")


def _spins_unless_rt(lock) -> bool:
    return not _config._current.get().preempt_rt


class RawSpinLock(Lock):
    """``raw_spinlock_t``: spinning, exclusive, holding it disables preemption, on
    every kernel configuration."""

    __slots__ = ()
    kind = "raw_spinlock_t"
    spinning = True


class SpinLock(Lock):
    """``spinlock_t``: spinning, exclusive; holding it disables preemption.  On
    PREEMPT_RT an rt_mutex: sleeping and preemptible (:mod:`checker.config`)."""

    __slots__ = ()
    kind = "spinlock_t"
    spinning = property(_spins_unless_rt)
    sleeps_on_rt = True


class RwLock(Lock):
    """``rwlock_t``: spinning reader/writer lock; ``acquire(shared=True)`` is read_lock.
    On PREEMPT_RT sleeping and preemptible (rwbase_rt)."""

    __slots__ = ()
    kind = "rwlock_t"
    spinning = property(_spins_unless_rt)
    sleeps_on_rt = True
    rw = True


class LocalLock(Lock):
    """``local_lock_t``, one per CPU (``local_lock(&area->lock)`` takes this CPU's).

    On !PREEMPT_RT ``local_lock`` is ``preempt_disable()`` plus, under
    CONFIG_DEBUG_LOCK_ALLOC, ``local_lock_acquire()``: a ``lock_map_acquire`` of
    the lock's ``dep_map`` (include/linux/local_lock_internal.h), so lockdep
    orders it like any lock.  :meth:`acquire` and :meth:`release` return the
    preempt actions with the lock as ``arg2``: the engine sees the preempt
    count only, ``lock-order`` the annotation.  On PREEMPT_RT it is a
    per-CPU spinlock_t, a sleeping lock that keeps the holder preemptible
    (``migrate_disable``: the engine's tasks never change CPU).
    """

    __slots__ = ()
    kind = "local_lock_t"
    spinning = property(_spins_unless_rt)
    sleeps_on_rt = True

    def acquire(self, shared: bool = False, nested: int = 0) -> A.Action:
        if shared:
            raise ModelError(f"{self.kind} {self.name} has no shared mode")
        if not _config._current.get().preempt_rt:
            return A.Action(A.PREEMPT_DISABLE, None, None, self)
        return super().acquire(False, nested)

    def try_acquire(self, shared: bool = False) -> A.Action:
        raise ModelError(f"{self.kind} {self.name}: local_lock has no trylock")

    def release(self) -> A.Action:
        if not _config._current.get().preempt_rt:
            return A.Action(A.PREEMPT_ENABLE, None, None, self)
        return super().release()


class Mutex(Lock):
    """``struct mutex``: sleeping, exclusive.  Waiting for it gives up the CPU."""

    __slots__ = ()
    kind = "mutex"


class RwSemaphore(Lock):
    """``struct rw_semaphore``: sleeping reader/writer lock."""

    __slots__ = ()
    kind = "rw_semaphore"
    rw = True


class PageLock(Lock):
    """The page lock (``PG_locked``): sleeping, exclusive, invisible to lockdep."""

    __slots__ = ()
    kind = "page lock"
    lockdep = False


class LockMap(Lock):
    """A bare ``lockdep_map``: ``acquire``/``release`` are annotations that never wait.

    Models use it where the kernel builds a lock from primitives and annotates
    it for lockdep (``rwsem_acquire``, ``rwsem_acquire_read``, ``rwsem_release``
    on the zspage lock's ``dep_map``).  ``try_acquire`` records a trylock
    annotation and always succeeds.
    """

    __slots__ = ("exclusive",)
    kind = "lockdep_map"
    rw = True
    blocking = False

    def __init__(self, name: str, cls: str | None = None, owner=None):
        super().__init__(name, cls, owner)
        # Every task holding the map exclusively (a buggy model may have two).
        self.exclusive = {}

    def holds(self, task: int) -> bool:
        return task in self.exclusive or task in self._readers
