"""The memory model an execution runs under: ``sc`` (the default) or ``ra``.

``sc``: sequentially consistent.  Every read of a :class:`~checker.Var`
returns the latest write, whatever the ordering its action names; this is
the engine as it always was, and every count stays as it was.

``ra``: the release/acquire (and relaxed) fragment of C11 as RC11 repairs it
(Lahav, Vafeiadis, Kang, Hur, Dreyer, "Repairing sequential consistency in
C/C++11", PLDI 2017), in the operational, view-based form of Kang et al.,
"A promising semantics for relaxed-memory concurrency", POPL 2017, without
promises.  The name says what it gives: release/acquire synchronisation,
and nothing stronger than what the orderings ask for.  Each ``Var`` keeps
its *store history* in modification order (mo).  A load may read any store
of that history that coherence allows, and which one is a branching point
of the search (``World.choices``), as loom and CDSChecker do: a store is
*shadowed* for a task when a later store of the same location, or a read of
one, happens before the task's load (hb: program order, locks,
release -> acquire reads-from, fences), or when an ``smp_mb`` published it
(a fence's view).  A relaxed or release store may take any place in mo after
the stores it cannot precede (another branching point): that is what 2+2W
and the relaxed S test need.  An RMW (``cmpxchg``, ``rmw``, ``add``) may read
any store it could load whose successor in mo is not already an RMW's, and
is placed right after it; nothing is placed between them later (atomicity).

The orderings (``order=`` on a Var's actions, :mod:`checker.atomics` for the
kernel's names):

* ``RELAXED``: ``READ_ONCE``, ``WRITE_ONCE``, ``atomic_read``, ``atomic_set``,
  ``atomic_inc``/``dec`` and the ``_relaxed`` RMWs: no synchronisation.
* ``ACQUIRE``: ``smp_load_acquire``, ``atomic_read_acquire``, ``_acquire``
  RMWs: a read of a release store (or of an RMW in its release sequence)
  makes the releasing task's past happen before the reader's future.
* ``RELEASE``: ``smp_store_release``, ``atomic_set_release``, ``_release``
  RMWs.
* ``FULL``: the kernel's fully ordered RMWs (``atomic_cmpxchg``,
  ``atomic_dec_return``, ``xchg``): ``smp_mb(); RMW acquire+release; smp_mb()``,
  reading the last store.
* ``None`` (an action with no ordering, what models wrote before ``ra``):
  read the last store, place a store last, synchronise as acquire and
  release: the model keeps its sequentially consistent meaning for every
  location it did not annotate.

Fences: ``smp_rmb`` is an acquire fence (what relaxed loads before it read
synchronises with what follows it), ``smp_wmb`` a release fence (relaxed
stores after it release what precedes it), ``smp_mb`` both plus a global
view: each ``smp_mb`` publishes every store its task cannot miss and learns
every store an earlier ``smp_mb`` published (PS 2.0's SC fence).  Locks
order their operations as they always did (release -> acquire is hb).

What it does not model (docs/memory-model.md): reading a store that has not
executed yet (load buffering, LB: C11 allows it, RC11 and this model do not;
the LKMM allows it for unordered plain accesses); a fully ordered or
unannotated RMW reading a store other than the last one; release sequences
of a thread's later plain stores (C++20 dropped them too: only RMW chains
continue one); the LKMM's address, data and control dependencies;
``smp_wmb``/``smp_rmb`` are stronger here than in the LKMM (A-cumulative
release/acquire fences, not store-store/load-load only).  Plain accesses
(struct fields, dict keys) have no history: under ``ra`` two conflicting
ones must be ordered by hb, else ``data-race`` reports them (as KCSAN or C11
would; an ``Obj.access`` step orders nothing), and a race-free plain read
sees the hb-latest write.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .config import resolve_named

RELAXED = "relaxed"
ACQUIRE = "acquire"
RELEASE = "release"
FULL = "full"
ORDERS = (RELAXED, ACQUIRE, RELEASE, FULL)
_ACQ = frozenset((ACQUIRE, FULL, None))
_REL = frozenset((RELEASE, FULL, None))
FENCES = ("mb", "rmb", "wmb")


@dataclass(frozen=True)
class MemoryModel:
    """A memory model: its name and whether loads may read older stores (its ``str`` is
    its name)."""

    name: str
    weak: bool
    __str__ = lambda self: self.name  # noqa: E731 - one line, as KernelConfig's


SC = MemoryModel("sc", False)
RA = MemoryModel("ra", True)
MODELS = {m.name: m for m in (SC, RA)}


def resolve(model) -> MemoryModel:
    """``model`` as a MemoryModel: one, a name from :data:`MODELS`, or None (sc)."""
    return resolve_named(model, MemoryModel, MODELS, SC, "memory model")


class GlobalFence(Exception):
    """An ``smp_mb`` (or a fully ordered RMW) ran under a scheduler whose reduction does not
    cover its global view (dpor's footprints do not): ``explore`` starts again with dfs."""


class Store:
    """One store of a location's history: its value, its place in mo (``ts``),
    the step that made it (task, hb position; None for the initial value), the
    hb clock it releases (None: nothing), the reads of it, and whether it is an
    RMW's (glued to the store before it)."""

    __slots__ = ("value", "ts", "task", "pos", "rel", "reads", "rmw")

    def __init__(self, value, ts, rmw=False):
        self.value = value
        self.ts = ts
        self.task = None
        self.pos = 0
        self.rel = None
        self.reads = []
        self.rmw = rmw


class Machine:
    """The ``ra`` state of one execution: store histories, pending acquire and
    release clocks per task, and the views ``smp_mb`` publishes.

    hb is the race detector's vector clocks (``vc``, :mod:`checker.races`):
    the World asks the machine which stores a task may read or where it may
    store (at the action), and the race detector calls :meth:`sync` once the
    step's hb position is known, which applies the ordering's synchronisation.
    """

    def __init__(self, ntasks: int, vc):
        self.vc = vc
        self.hist = {}                      # Var uid -> [Store] in mo
        self.acq = [None] * ntasks          # clocks of relaxed reads, for an acquire fence
        self.rel = [None] * ntasks          # the clock at the task's last release fence
        self.scv = {}                       # what smp_mb published: uid -> ts
        self.scf = [{} for _ in range(ntasks)]   # what the task's last smp_mb learnt
        self.pending = None                 # (task, order, store read, store made, fence)
        # Set by explore for a scheduler that cannot take smp_mb's global view (dpor):
        # the reason, raised as GlobalFence at the first smp_mb.
        self.refuse_global = ""

    # -- at the action ---------------------------------------------------------
    def history(self, var) -> list:
        h = self.hist.get(var.uid)
        if h is None:
            h = self.hist[var.uid] = [Store(var._value, Fraction(0))]
        return h

    def floor(self, t: int, h: list, uid) -> int:
        """The index in ``h`` of the last store task ``t`` cannot miss (coherence:
        a store or a read of one that happens before, or what ``smp_mb`` taught it)."""
        mine = self.vc[t]
        f = self.scf[t].get(uid)
        for i in range(len(h) - 1, 0, -1):
            s = h[i]
            if f is not None and s.ts <= f:
                return i
            if s.task is not None and mine[s.task] >= s.pos:
                return i
            for rt, rp in s.reads:
                if mine[rt] >= rp:
                    return i
        return 0

    def load_choices(self, t: int, a) -> tuple:
        """The stores ``t``'s load may read, newest first, as history indices."""
        var = a.obj
        h = self.history(var)
        if a.order is None:
            out = (len(h) - 1,)
        else:
            lo = self.floor(t, h, var.uid)
            out = tuple(range(len(h) - 1, lo - 1, -1))
        if a.op == _SPIN:
            pred = a.arg
            out = tuple(i for i in out if pred(h[i].value))
        return out

    def store_choices(self, t: int, a) -> tuple:
        """Where ``t``'s store may go in mo, as insertion indices, last first; an
        RMW's store is never separated from the store it read."""
        var = a.obj
        h = self.history(var)
        n = len(h)
        if a.order is None or a.order == FULL:
            return (n,)
        lo = self.floor(t, h, var.uid)
        return tuple(p for p in range(n, lo, -1) if p == n or not h[p].rmw)

    def load(self, t: int, a, choice):
        """Perform a load (READ, SPIN): the store read; ``choice`` None is the last."""
        h = self.history(a.obj)
        s = h[-1 if choice is None else choice]
        self.pending = (t, a.order, s, None, None)
        return s.value

    def store(self, t: int, a, value, choice) -> None:
        """Perform a plain store at mo place ``choice`` (None: last)."""
        var = a.obj
        h = self.history(var)
        p = len(h) if choice is None else choice
        ts = h[-1].ts + 1 if p == len(h) else (h[p - 1].ts + h[p].ts) / 2
        s = Store(value, ts)
        h.insert(p, s)
        var._value = h[-1].value
        self.pending = (t, a.order, None, s, None)

    def rmw_choices(self, t: int, a, fn) -> tuple:
        """The stores ``t``'s RMW may read, newest first: any store it may read whose
        mo successor is not already an RMW's (atomicity); a failed cmpxchg
        (``fn`` gives None) is a load and may read any.  Unannotated or fully
        ordered RMWs read the last store."""
        var = a.obj
        h = self.history(var)
        last = len(h) - 1
        if a.order is None or a.order == FULL:
            return (last,)
        lo = self.floor(t, h, var.uid)
        return tuple(i for i in range(last, lo - 1, -1)
                     if i == last or not h[i + 1].rmw or fn(h[i].value) is None)

    def rmw(self, t: int, a, fn, choice=None):
        """Perform an RMW reading store ``choice`` (None: the last): ``fn(old)`` is the
        new value as a 1-tuple, or None for a failed cmpxchg (a read only).  Its
        store goes right after the one it read.  Returns the old and the new value (the
        old one when a cmpxchg failed)."""
        var = a.obj
        h = self.history(var)
        i = len(h) - 1 if choice is None else choice
        read = h[i]
        new = fn(read.value)
        s = None
        if new is not None:
            ts = read.ts + 1 if i == len(h) - 1 else (read.ts + h[i + 1].ts) / 2
            s = Store(new[0], ts, rmw=True)
            h.insert(i + 1, s)
            var._value = h[-1].value
        self.pending = (t, a.order, read, s, None)
        return read.value, (read.value if new is None else new[0])

    def fence(self, t: int, kind: str) -> None:
        self.pending = (t, None, None, None, kind)

    # -- once the step's hb position is known (checker.races) ------------------
    def sync(self, t: int, pos: int) -> None:
        """Apply the pending step's synchronisation to task ``t``'s clock, whose own
        entry is now ``pos``."""
        p = self.pending
        if p is None or p[0] != t:
            return
        self.pending = None
        _, order, read, made, fence = p
        mine = self.vc[t]
        full = order == FULL or fence == "mb"
        if (full or fence == "rmb") and self.acq[t] is not None:
            _join(mine, self.acq[t])
        if full:
            self._publish(t)
        if read is not None:
            read.reads.append((t, pos))
            if read.rel is not None:
                if order in _ACQ:
                    _join(mine, read.rel)
                else:
                    self.acq[t] = _joined(self.acq[t], read.rel)
        if made is not None:
            made.task, made.pos = t, pos
            rel = list(mine) if order in _REL else (list(self.rel[t]) if self.rel[t] else None)
            if made.rmw and read.rel is not None:
                rel = _joined(rel, read.rel)        # an RMW continues a release sequence
            made.rel = rel
        if full or fence == "wmb":
            self.rel[t] = list(mine)
        if full:
            self._publish(t)

    def _publish(self, t: int) -> None:
        """``smp_mb``: publish what ``t`` cannot miss, learn what others published."""
        if self.refuse_global:
            raise GlobalFence(self.refuse_global)
        scv = self.scv
        for uid, h in self.hist.items():
            ts = h[self.floor(t, h, uid)].ts
            if ts > scv.get(uid, -1):
                scv[uid] = ts
        self.scf[t] = dict(scv)


_SPIN = 5       # checker.actions.SPIN (no import cycle: actions imports this module)


def _join(vc, clock) -> None:
    for i, x in enumerate(clock):
        if x > vc[i]:
            vc[i] = x


def _joined(a, b):
    if a is None:
        return list(b)
    out = list(a)
    _join(out, b)
    return out

