"""Reductions that wrap the World: which of its steps make one step of the search.

The World (:mod:`checker.world`) performs one action at a time with the
kernel's semantics and records every one in ``World.events``.  A search that
reasons about dependence (``dpor``) may take coarser steps where a reduction
shows that nothing is lost; every step the search takes is one event of
``World.sched_events``:

* :class:`PlainSteps`: every World step is a step (``sched_events`` is
  ``events``).  The default, and what every other program gets.
* :class:`MacroSteps`: when every task of the program shares one CPU, no
  task runs while another is atomic, so an atomic section is one step.
* :class:`GuardedSections`: when every task has a CPU of its own and the
  program declares a guarded ``Var``, a step and the guarded accesses and
  guard releases that follow it are one step (Lipton's reduction).

A grouped step is one summary :class:`~checker.world.Event` whose footprint
(``Event.fps``) is every object the grouped steps touched.  Trace files,
replays and reports stay step by step (``World.events``).

A scheduler names the reductions it wants (``BaseScheduler.reductions``);
:func:`wrap` applies the first that fits the program.  A reduction that
relies on a declaration (a guard, a counter nobody waits on) raises
:class:`GuardBroken` when the program breaks it, and :class:`Declarations`
says how ``explore`` starts again without it.
"""

from __future__ import annotations

from . import actions as A
from .budget import StepCapExceeded, runaway_message
from .errors import InternalError
from .objects import Lock
from .world import Event

_GUARDED_OPS = frozenset({A.READ, A.WRITE, A.RMW, A.CMPXCHG, A.ADD})
_CHECKED_OPS = _GUARDED_OPS | {A.SPIN}


class GuardBroken(Exception):
    """A ``Var``'s declared guard was not held (or was trylocked): the guarded
    sections reduction does not apply to this program (``explore`` restarts
    without it)."""


class CounterWaited(GuardBroken):
    """A task waits on a ``counter`` Var (``spin_until``, or a spin loop of
    re-reads): its additions can no longer commute, so ``explore`` restarts
    with every addition a plain write (raised by the World, which records the
    additions' footprints: ``World.counters``)."""


class ReferenceBroken(GuardBroken):
    """A count fell below the references tasks hold on it (a put of a reference
    another task took, a count set by a write, a free of a referenced object):
    reads under a reference no longer commute with puts (:mod:`checker.refs`), so
    ``explore`` restarts with every read of a kept object an ordinary read."""


class Declarations:
    """What an exploration trusts of the program's declarations: ``guards`` (the
    guarded-sections reduction may run), ``counters`` (additions to counter
    Vars commute) and ``references`` (a task's reads of an object it holds a
    reference to commute with puts, :mod:`checker.refs`).  Each is withdrawn
    once, when the program breaks it."""

    def __init__(self):
        self.guards = True
        self.counters = True
        self.references = True
        # Sections on a shared CPU among several CPUs (checker.mixed): the lock
        # discipline the other CPUs' tasks were seen to keep.
        from .mixed import Protection
        self.protection = Protection()

    def withdraw(self, exc: GuardBroken) -> str | None:
        """Stop trusting what ``exc`` found broken; returns the note for ``Result.note``
        (None: nothing withdrawn, a learned protection was weakened, checker.mixed).

        Sound either way (Stoller 2002: the reduced search reaches the first
        broken declaration), so the search starts again without it."""
        from .mixed import ProtectionRefined     # mixed builds on this module
        if isinstance(exc, ProtectionRefined):
            self.protection.refresh()
            return None
        if isinstance(exc, ReferenceBroken):
            if not self.references:
                raise InternalError(f"a reference broke after reads under one were off: {exc}")
            self.references = False
            return f"reads under a reference not commuted with puts: {exc}"
        if isinstance(exc, CounterWaited):
            if not self.counters:
                raise InternalError(f"a counter was waited on after commuting was off: {exc}")
            self.counters = False
            return f"counter additions not commuted: {exc}"
        if not self.guards:
            raise InternalError(f"a guard broke after the reduction was off: {exc}")
        self.guards = False
        return f"guarded sections not reduced: {exc}"


def wrap(world, wanted, guards: bool = True, cap: int = 1 << 62, declared=None):
    """The first reduction of ``wanted`` that applies to ``world``'s program, around
    it (PlainSteps if none does).  ``guards`` False leaves GuardedSections out (a
    declaration found broken); ``cap``: the steps one execution may take
    (:mod:`checker.budget`), checked inside a grouped step too, which a runaway
    task may never end.  ``declared``: the exploration's :class:`Declarations`,
    which a reduction that learns what it relies on needs (without it, that
    reduction does not apply)."""
    for r in wanted:
        if getattr(r, "needs_declarations", False):
            if declared is not None and r.applies(world):
                return r(world, cap, declared)
            continue
        if r.applies(world) and (guards or r is not GuardedSections):
            return r(world, cap)
    return PlainSteps(world, cap)


class PlainSteps:
    """Every World step is a step of the search."""

    @staticmethod
    def applies(world) -> bool:
        return True

    def __init__(self, world, cap: int = 1 << 62):
        self.world = world
        self.step = world.step      # nothing to add: the World's own


class _Sections:
    """A step followed by the steps of its task that :meth:`_continues` allows,
    closed into one summary event of ``World.sched_events``."""

    # Whether a grouped step can end with its task waiting for good (:meth:`_stuck`).
    can_stick = False

    def __init__(self, world, cap: int = 1 << 62):
        self.world = world
        self.cap = cap
        self.events = world.sched_events = []
        self._seq = [0] * len(world.tasks)      # grouped steps per task (Event.seq)

    def step(self, index: int, choice=None) -> Event:
        """Perform task ``index``'s pending action and those that join it; returns
        the first one's event (the summary is the last of ``sched_events``)."""
        w = self.world
        t = w.tasks[index]
        self._begin(t)
        ev = self._one(index, choice)
        start = len(w.events) - 1
        while self._continues(w, t):
            if len(w.events) >= self.cap:
                raise StepCapExceeded(runaway_message(w, self.cap))
            self._one(index, None)
        self._close(start)
        return ev

    def _begin(self, t) -> None:
        """A grouped step of ``t`` starts (before its first World step)."""

    def _one(self, index: int, choice) -> Event:
        """One World step of the group."""
        return self.world.step(index, choice)

    def _continues(self, world, t) -> bool:
        """Whether ``t``'s pending action joins the grouped step."""
        raise NotImplementedError

    def _stuck(self, t) -> bool:
        """Whether ``t`` ended its grouped step waiting for good (what it waits for
        is then part of the step's footprint)."""
        raise NotImplementedError

    def _relax(self, touched: dict, locks: set) -> None:
        """Adjust the merged footprint ``{uid: [kind, pre, post]}`` of a grouped step."""

    def _close(self, start: int) -> None:
        w = self.world
        evs = w.events
        first = evs[start]
        last = evs[-1]
        t = first.task
        m = Event()
        m.plain = m.dead = None
        m.index = len(self.events)
        m.task = t
        self._seq[t] += 1
        m.seq = self._seq[t]
        m.action, m.result, m.choice = first.action, first.result, first.choice
        m.obj, m.kind, m.pre, m.post = first.obj, first.kind, first.pre, first.post
        m.cpu, m.own = first.cpu, first.own
        m.preemption, m.pc = first.preemption, last.pc
        ts = w.tasks[t]
        stuck = self.can_stick and self._stuck(ts)
        if start == len(evs) - 1 and not stuck:
            m.fps = first.fps
            m.oc, m.xoc = first.oc, first.xoc
        else:
            touched = {}
            locks = set()
            for e in evs[start:]:
                if not e.kind:
                    continue
                if isinstance(e.action.obj, Lock):
                    locks.add(e.action.obj.uid)
                for o, k, pre, post in (e.fps or ((e.obj, e.kind, e.pre, e.post),)):
                    had = touched.get(o)
                    if had is None:
                        touched[o] = [k, pre, post]
                    else:
                        had[0] = A.merge(had[0], k)
                        had[2] = post
            if stuck:
                a = ts.pending
                kind = a.footprint_kind
                if kind and a.obj.uid not in touched:
                    now = a.obj.state() if a.op in (A.ACQUIRE, A.WAIT) else a.obj._value
                    touched[a.obj.uid] = [kind, now, now]
            self._relax(touched, locks)
            m.fps = tuple((o, k, pre, post) for o, (k, pre, post) in touched.items())
            if first.kind:
                m.kind = touched[first.obj][0]
            after = w.owner[first.cpu] if first.cpu >= 0 else None
            m.xoc = m.oc = (first.own == t) != (after == t)
            if not m.oc and self.can_stick and any(_can_wait(e.action) for e in evs[start + 1:]):
                # A section that waited inside and went through: in another state
                # it stays stuck, owning its CPU for good.  The shape of an event
                # is then a matter of what it read, and only an ownership change
                # is dependent with the CPU's other steps: a sleeping section
                # must be one (found by bench/fuzz_dpor.py seed 52 program 95).
                m.oc = True
        self.events.append(m)


def _can_wait(a) -> bool:
    """Whether action ``a`` inside a section on one CPU may wait for another task: a
    spin, a wait, a sleeping lock.  (A spinning lock's holder owns the CPU, so a
    section never finds one held.)"""
    op = a.op
    return op == A.SPIN or op == A.WAIT or (op == A.ACQUIRE and a.obj.blocking and not a.obj.spinning)


class MacroSteps(_Sections):
    """One CPU for every task: a step that leaves its task atomic is followed by
    the task's next steps until it is preemptible again, finished, blocked (a
    spin or lock inside the section that can never be satisfied: the CPU stays
    owned, a deadlock) or at a choice.  No other task can run meanwhile, so
    nothing is lost."""

    can_stick = True

    @staticmethod
    def applies(world) -> bool:
        return world.program.ncpus == 1 and len(world.tasks) > 1

    def _continues(self, w, t) -> bool:
        return (not t.finished and t.pc > 0 and t.pending.op != A.CHOOSE
                and w.owner[t.cpu] == t.index and w.action_enabled(t) and not w.violations
                and not _weak_choice(w, t))

    def _stuck(self, t) -> bool:
        w = self.world
        return (not t.finished and t.pc > 0 and w.owner[t.cpu] == t.index
                and not w.action_enabled(t))


class GuardedSections(_Sections):
    """Every task on a CPU of its own, and guarded Vars declared: a step and the
    guarded accesses, labels and guard releases that follow it are one step.

    Lipton's reduction: an acquire moves right, a guarded access (its guard
    held by the task, so no other task can touch the data until the release)
    commutes both ways, and the release of a lock nobody trylocks moves left.
    The declaration is checked before every step (:class:`GuardBroken`).
    """

    @staticmethod
    def applies(world) -> bool:
        return (world.program.declares_guards and len(world.tasks) > 1
                and not any(world.shared_cpu))

    def _step(self, index: int, choice=None) -> Event:
        t = self.world.tasks[index]
        a = t.pending
        op = a.op
        if op in _CHECKED_OPS:
            g = a.obj.guard
            if g is not None and g._writer != index:
                raise GuardBroken(f"task {t.name}: {a.describe()} without holding {g.name}")
        elif op == A.TRYLOCK and a.obj.guards:
            raise GuardBroken(f"task {t.name}: trylock of {a.obj.name}, a guard")
        return _Sections.step(self, index, choice)

    def _continues(self, w, t) -> bool:
        if t.finished or w.violations:
            return False
        a = t.pending
        op = a.op
        if op == A.LABEL:
            return True
        if op == A.RELEASE:
            return a.obj.guards and a.obj._writer == t.index
        if op in _GUARDED_OPS:      # operations on a Var
            g = a.obj.guard
            return g is not None and g._writer == t.index and not _weak_choice(w, t)
        return False

    def step(self, index: int, choice=None) -> Event:
        # The race detector orders a group's steps once the group is closed, by the
        # footprint the search gives it (a relaxed lock orders nothing).
        w = self.world
        self._relaxed = set()
        if w.mm is not None:
            # A weak memory model reads the detector's clocks at every step, and
            # relaxes no lock (below): nothing to wait for.
            return self._step(index, choice)
        w.race_deferred = []
        try:
            ev = self._step(index, choice)
        finally:
            evs, w.race_deferred = w.race_deferred, None
        races = w._races
        for e in evs:
            races.step(w, e, self._relaxed)
        return ev

    def _relax(self, touched: dict, locks: set) -> None:
        # A lock the step found free and left free: the step only needed it
        # free, like a reader (two such sections commute); the race detector is
        # told (``step``).
        if self.world.mm is not None:
            # Under a weak model the lock's release-acquire is what orders the data
            # the sections read: it stays a write.
            return
        for o, had in touched.items():
            if had[0] == A.W and had[1] == had[2] and o in locks:
                had[0] = A.R
                self._relaxed.add(o)


def _weak_choice(w, t) -> bool:
    """Whether ``t``'s pending step is a weak memory model's choice (a load's store, a
    store's place): like a ``choose``, it starts a step of its own."""
    return w.mm is not None and len(w.choices(t.index)) > 1


# What dpor asks for: sections as steps wherever the program allows.
SECTIONS = (MacroSteps, GuardedSections)
