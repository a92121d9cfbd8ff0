"""Actions: what a task yields, the operation it is about to perform.

An action is an *intent*; the engine performs it when it schedules the task and
sends the result back into the generator (the value read, whether a trylock
succeeded, the option chosen).  The set is closed (ARCHITECTURE.md section 2):

============  ===========================================  ==============
op            meaning                                      result
============  ===========================================  ==============
READ          read a :class:`~checker.objects.Var`         the value
WRITE         write a Var                                  None
RMW           atomic read-modify-write ``v = fn(v)``       the old value
CMPXCHG       kernel ``cmpxchg(ptr, old, new)``            the old value
SPIN          spin (keeping the CPU) until ``pred(v)``     the value
ACQUIRE       take a lock, waiting if needed               None
TRYLOCK       take a lock if free, never wait              True / False
RELEASE       release a lock held by this task             None
PREEMPT_*     ``preempt_disable()`` / ``preempt_enable()`` None
COND_RESCHED  explicit preemption point                    None
MIGHT_SLEEP   ``might_sleep()`` annotation                 None
SLEEP         ``schedule()``: give up the CPU              None
CHOOSE        nondeterministic choice, explored fully     the option
ALLOC, FREE   lifetime of an :class:`~checker.objects.Obj` None
ACCESS        use of an Obj's memory (read or write)       None
PIN, UNPIN    the Obj is mapped / unmapped by this task    None
LABEL         annotation for the trace only               None
ADD           ``v += delta``, result unseen (``atomic_inc``,  None
              ``get_page``); with ``frees``: ``put_page``
WAIT          wait until a lock is free, without taking    None
              it (``folio_wait_locked``)
FENCE         ``smp_mb``/``smp_rmb``/``smp_wmb``           None
============  ===========================================  ==============

A Var's actions carry the kernel ordering they name (``order``, one of
:data:`checker.memory_model.ORDERS`, or None); only a weak memory model reads
it (:mod:`checker.memory_model`).

Actions are built by the methods of the shared objects (``x.read()``,
``lk.acquire()``) and by the functions below; user code never instantiates
:class:`Action` directly.
"""

from __future__ import annotations

from .errors import ModelError

READ = 1
WRITE = 2
RMW = 3
CMPXCHG = 4
SPIN = 5
ACQUIRE = 6
TRYLOCK = 7
RELEASE = 8
PREEMPT_DISABLE = 9
PREEMPT_ENABLE = 10
COND_RESCHED = 11
MIGHT_SLEEP = 12
SLEEP = 13
CHOOSE = 14
ALLOC = 15
FREE = 16
ACCESS = 17
PIN = 18
UNPIN = 19
LABEL = 20
ADD = 21
WAIT = 22
FENCE = 23

OP_NAMES = {
    READ: "read", WRITE: "write", RMW: "rmw", CMPXCHG: "cmpxchg", SPIN: "spin_until",
    ACQUIRE: "acquire", TRYLOCK: "trylock", RELEASE: "release",
    PREEMPT_DISABLE: "preempt_disable", PREEMPT_ENABLE: "preempt_enable",
    COND_RESCHED: "cond_resched", MIGHT_SLEEP: "might_sleep", SLEEP: "sleep",
    CHOOSE: "choose", ALLOC: "alloc", FREE: "free", ACCESS: "access",
    PIN: "pin", UNPIN: "unpin", LABEL: "label", ADD: "add", WAIT: "wait_unlocked", FENCE: "fence",
}

# Footprint kinds, for the dependence relation of the search.  ADDS and PUTS
# are additions to a counter whose result the task does not see: two plain
# additions commute (nobody sees the value in between), and so do two puts
# (additions that free an object at 0: it ends freed whichever is last); an
# addition and a put do not (an addition between two puts keeps it alive).
NONE, R, W, ADDS, PUTS = 0, 1, 2, 3, 4


def conflict(k1: int, k2: int) -> bool:
    """Whether two steps touching one object in ways ``k1``, ``k2`` (non-zero) conflict."""
    return k1 != k2 or k1 == W


def merge(k1: int, k2: int) -> int:
    """The kind of two steps' touches of one object taken as one step."""
    if not k1:
        return k2
    if not k2 or k1 == k2:
        return k1
    return W

# Ops whose footprint is a write of their object.  Every lock operation counts
# as a write: all operations on one lock are mutually dependent (the convention
# of the DPOR literature, see dpor-benchmarks.md section 1).
_WRITE_OPS = frozenset({WRITE, RMW, CMPXCHG, ACQUIRE, TRYLOCK, RELEASE, ALLOC, FREE})
_READ_OPS = frozenset({READ, SPIN, PIN, UNPIN, WAIT})


class Action:
    """One operation a task is about to perform.

    ``op`` is one of the module constants; ``obj`` the shared object it acts on
    (None for CPU-local actions); ``arg``/``arg2`` its operands; ``order`` the
    memory ordering of a Var's action (None: unannotated).
    """

    __slots__ = ("op", "obj", "arg", "arg2", "order")

    def __init__(self, op: int, obj=None, arg=None, arg2=None, order=None):
        self.op = op
        self.obj = obj
        self.arg = arg
        self.arg2 = arg2
        self.order = order

    @property
    def name(self) -> str:
        return OP_NAMES[self.op]

    @property
    def footprint_kind(self) -> int:
        """How this action touches ``obj`` for the dependence relation: NONE, R, W,
        ADDS or PUTS (a commuting addition to a ``counter`` Var, or a put that
        may free; a plain Var's addition is W)."""
        op = self.op
        if (op == ACQUIRE or op == TRYLOCK or op == RELEASE) and not self.obj.blocking:
            # A lockdep annotation (LockMap) never waits and no other task
            # reads it: lockdep's verdicts depend on the task's own steps.
            return NONE
        if (op == ACQUIRE or op == TRYLOCK) and self.arg:
            return R        # a shared acquisition (see World.step)
        if op in _WRITE_OPS:
            return W
        if op in _READ_OPS:
            return R
        if op == ACCESS:
            return W if self.arg else R
        if op == ADD:
            if not self.obj.counter:
                return W
            return ADDS if self.arg2 is None else PUTS
        return NONE

    def uids(self) -> tuple:
        """The objects this action touches with its ``footprint_kind``: a pin the
        object's mappings (``pin_uid``), a free or an allocation the object and
        its mappings, a put (``add`` with ``frees``) the count, the object and
        its mappings; anything else its own object."""
        op = self.op
        o = self.obj
        if op == PIN or op == UNPIN:
            return (o.pin_uid,)
        if op == ALLOC or op == FREE:
            return (o.uid, o.pin_uid)
        if op == ADD and self.arg2 is not None:
            f = self.arg2[0]
            return (o.uid, f.uid, f.pin_uid)
        if op == ACCESS and self.arg2:
            return (o.uid,) + tuple(x.uid for x in self.arg2)
        return (o.uid,)

    def describe(self) -> str:
        """A short human description: ``acquire(class->lock)``, ``write(x, 3)``."""
        op = self.op
        n = OP_NAMES[op]
        o = self.obj
        oname = getattr(o, "name", None)
        if self.order is not None:
            n = f"{n}_{self.order}"
        if op == WRITE:
            return f"{n}({oname}, {self.arg!r})"
        if op == CMPXCHG:
            return f"{n}({oname}, {self.arg!r}, {self.arg2!r})"
        if op in (ACQUIRE, TRYLOCK) and self.arg:
            return f"{n}({oname}, shared)"
        if op == ACCESS:
            # An Obj's parts are the Obj (a step declaring the whole reads as written).
            parts = getattr(o, "parts", ())
            also = "".join(f" + {x.name}" for x in self.arg2 or () if x not in parts)
            return f"access({oname}{also}, {'write' if self.arg else 'read'})"
        if op == ADD:
            return f"{n}({oname}, {self.arg:+d})"
        if op == CHOOSE:
            return f"choose({list(self.arg)!r})"
        if op == LABEL:
            return f"label({self.arg})"
        if op == FENCE:
            return f"smp_{self.arg}()"
        if (op == PREEMPT_DISABLE or op == PREEMPT_ENABLE) and self.arg:
            return f"{_IRQ_NAMES[op, self.arg]}()"
        if (op == SPIN or op == WAIT) and self.arg2:
            # checker.retryloop's wait for a retry loop's rounds: say where it stands.
            return f"{n}({oname}) (retrying in {self.arg2})"
        if o is not None:
            return f"{n}({oname})"
        return f"{n}()"

    def __repr__(self) -> str:
        return f"<Action {self.describe()}>"


def spins(a: Action) -> bool:
    """Whether ``a``, an acquisition or a wait for a lock, spins (keeps its CPU) when it
    cannot go on, rather than sleeps: a spinning lock's, and checker.retryloop's wait for
    a retry loop's rounds (``arg2``: where the loop is), which spins whatever the lock."""
    return a.obj.spinning or (a.op == WAIT and a.arg2 is not None)


def preempt_disable() -> Action:
    """``preempt_disable()``: raise this task's preempt count."""
    return Action(PREEMPT_DISABLE)


def local_irq_disable() -> Action:
    """``local_irq_disable()`` (``local_irq_save``): no interrupt on this CPU until the
    matching enable; the task is atomic meanwhile (it cannot be preempted either)."""
    return Action(PREEMPT_DISABLE, None, "irq")


def local_irq_enable() -> Action:
    """``local_irq_enable()`` (``local_irq_restore`` of a save)."""
    return Action(PREEMPT_ENABLE, None, "irq")


def local_bh_disable() -> Action:
    """``local_bh_disable()``: no softirq on this CPU until the matching enable (and on
    !PREEMPT_RT no preemption: it raises the preempt count)."""
    return Action(PREEMPT_DISABLE, None, "bh")


def local_bh_enable() -> Action:
    """``local_bh_enable()``."""
    return Action(PREEMPT_ENABLE, None, "bh")


_IRQ_NAMES = {(PREEMPT_DISABLE, "irq"): "local_irq_disable", (PREEMPT_ENABLE, "irq"): "local_irq_enable",
              (PREEMPT_DISABLE, "bh"): "local_bh_disable", (PREEMPT_ENABLE, "bh"): "local_bh_enable"}


def preempt_enable() -> Action:
    """``preempt_enable()``: lower this task's preempt count (must be positive)."""
    return Action(PREEMPT_ENABLE)


def cond_resched() -> Action:
    """``cond_resched()``: a voluntary preemption point.

    Where the task is preemptible the CPU may switch to another task here
    without that counting as a preemption; in atomic context it is a
    sleep-in-atomic bug (the kernel's ``__might_resched`` check).
    """
    return Action(COND_RESCHED)


def might_sleep() -> Action:
    """``might_sleep()``: assert that sleeping is allowed here."""
    return Action(MIGHT_SLEEP)


def sleep(reason: str = "schedule") -> Action:
    """``schedule()``: the task gives up its CPU and is woken at once."""
    return Action(SLEEP, arg=reason)


def choose(options) -> Action:
    """A nondeterministic choice; the search explores every option."""
    opts = tuple(options)
    if not opts:
        raise ModelError("choose() needs at least one option")
    return Action(CHOOSE, arg=opts)


def label(text: str, **info) -> Action:
    """An annotation that only appears in the trace (e.g. the kernel function entered).

    ``info`` carries structured facts for monitors; conventions used by the
    built-in properties: ``label("store", key=K, value=V)`` (a client's data
    write to handle K takes effect) and ``label("load", key=K, value=V)`` (a
    client read V from handle K), checked by ``data-integrity``.
    """
    return Action(LABEL, arg=text, arg2=info or None)


def alloc(obj) -> Action:
    """Mark ``obj`` (an :class:`~checker.objects.Obj`) allocated."""
    return Action(ALLOC, obj)


def free(obj) -> Action:
    """Mark ``obj`` freed."""
    return Action(FREE, obj)


# An ACCESS action's marking (kept in ``Action.order``, which only a Var's actions
# use otherwise): how the kernel accesses the memory the step declares.
PLAIN = "plain"         # plain C: races with any concurrent conflicting access but a marked read
MARKED = "marked"       # READ_ONCE/WRITE_ONCE/data_race(): never races with another marked one


def access(obj, write: bool = False, also=(), marked=None) -> Action:
    """A use of ``obj``'s memory; racing accesses are ordered by the search.

    ``also``: more Objs the same step uses the same way, in its footprint
    with ``obj`` (``Obj.access`` passes the object's ``parts``).  ``marked``:
    whether the kernel marks the accesses the step declares (``READ_ONCE``,
    ``WRITE_ONCE``, ``data_race()``: True) or makes them plain (False), which
    decides which pairs are data races (checker.races, docs/design.md "Marked
    and plain accesses").  None, a file's bare ``access()``: a read is marked
    (what a lockless read declared this way meant before marking was said), a
    write plain."""
    if marked is not None and type(marked) is not bool:
        raise ModelError(f"access({getattr(obj, 'name', obj)}): marked= takes True (READ_ONCE/"
                         f"WRITE_ONCE/data_race()), False (a plain access) or None, got {marked!r}")
    if marked is None:
        marked = not write
    also = tuple(also)
    return Action(ACCESS, obj, bool(write), also or None, MARKED if marked else PLAIN)


def pin(obj) -> Action:
    """This task maps ``obj`` (holds it in place) until :func:`unpin`."""
    return Action(PIN, obj)


def fence(kind: str) -> Action:
    """``smp_mb()`` (``"mb"``), ``smp_rmb()`` (``"rmb"``) or ``smp_wmb()`` (``"wmb"``):
    a no-op on the sequentially consistent model (:mod:`checker.memory_model`)."""
    if kind not in ("mb", "rmb", "wmb"):
        raise ModelError(f"fence kind must be 'mb', 'rmb' or 'wmb', got {kind!r}")
    return Action(FENCE, arg=kind)


def unpin(obj) -> Action:
    """End of this task's mapping of ``obj``."""
    return Action(UNPIN, obj)
