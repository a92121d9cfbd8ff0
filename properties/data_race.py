"""``data-race``: plain accesses to shared memory are ordered, as KCSAN would require.

A step is an action and the task code after it up to the next ``yield``
(:mod:`checker.memory`).  A plain access in that code which the action did
not declare (reading ``page->movable`` right after ``trylock_page``, say)
happens *after* the action; the engine runs it atomically with the action,
which loses no behaviour only if no other task can touch that location in
between (Lipton: the access must be a both-mover).  This property checks
exactly that on every execution, the way a happens-before race detector
(CHESS, loom, KCSAN in the kernel) does: two accesses of one location by
different tasks, at least one of them such a plain access and at least one
a write, must be ordered by the actions between them (a lock released and
taken, an atomic variable written and read, the CPU given up and taken).

A report is one of two findings, both worth a reviewer's time:

* a data race in the kernel code the model follows (a field read without
  the lock its writers hold, as when ``__free_zspage`` resets pages without
  their page locks while migration reads ``page->movable``); or
* a model that does not say where the kernel reads: make the access its own
  step (``yield obj.access()`` before it, the model's ``READ_ONCE``) or hold
  the lock the kernel holds.

Because executions that differ only in the order of independent steps
have the same happens-before order, checking one execution per
Mazurkiewicz trace (``dpor``) checks them all; and a race in some
execution where plain accesses run at their own time shows up as a race in
some explored execution (the standard argument for race detection on
data-race-free prefixes).  Fields declared ``atomic`` (an ``atomic_long_t``)
are marked accesses: neither checked nor ordering anything.

Hooks: ``on_execution_start``, ``on_step_end`` (vector clocks, FastTrack
style: per location the last write and the latest reads of each task).
"""

from __future__ import annotations

from checker import Monitor
from checker import actions as A

_R, _W = A.R, A.W
_conflict = A.conflict
_VERB = {A.R: "reads", A.W: "writes", A.ADDS: "updates", A.PUTS: "puts"}


class _Access:
    """One access in a location's history."""

    __slots__ = ("task", "pos", "clock", "kind", "step", "what", "late")

    def __init__(self, task, pos, clock, kind, step, what, late):
        self.task = task
        self.pos = pos        # 2*seq for the action, 2*seq+1 after it
        self.clock = clock    # the task's clock then (None for a late access: orders nothing)
        self.kind = kind
        self.step = step
        self.what = what      # (label, function) of a late access, else None
        self.late = late


class _Loc:
    """A location's history: the last write and, since it, each task's latest reads."""

    __slots__ = ("w", "reads", "has_late")

    def __init__(self):
        self.w = None
        self.reads = {}       # (task, kind, late) -> _Access
        self.has_late = False


class DataRace(Monitor):
    name = "data-race"
    description = ("plain accesses a step makes after its action are ordered with every conflicting "
                   "access of another task (no data race, as KCSAN requires)")

    def __init__(self):
        self._vc = []
        self._locs = {}
        self._cpu_oc = {}
        self._cpu_since = {}

    def on_execution_start(self, world):
        n = len(world.tasks)
        self._vc = [[0] * n for _ in range(n)]
        self._locs = {}
        self._cpu_oc = {}
        self._cpu_since = {}

    def on_step_end(self, world, ev):
        t = ev.task
        vc = self._vc[t]
        pos = 2 * ev.seq
        vc[t] = pos
        late = ev.late or ()
        if ev.fps is not None:
            fp = [(o, k) for o, k, _, _ in ev.fps]
        elif ev.kind:
            fp = [(ev.obj, ev.kind)]
        else:
            fp = []
        sync = [(o, k) for o, k in fp if o not in late] if late else fp
        locs = self._locs
        # The action's ordering: what it conflicts with, and its CPU.
        for o, k in sync:
            loc = locs.get(o)
            if loc is None:
                continue
            w = loc.w
            if w is not None and w.task != t and w.clock is not None:
                _join(vc, w.clock)
            if k != _R:
                for (u, rk, lt), r in loc.reads.items():
                    if u != t and not lt and _conflict(k, rk):
                        _join(vc, r.clock)
        c = ev.cpu
        if c >= 0 and (fp or ev.oc):
            last = self._cpu_oc.get(c)
            if last is not None:
                _join(vc, last)
            if ev.oc:
                for clk in self._cpu_since.get(c, ()):
                    _join(vc, clk)
        clock = tuple(vc)
        if c >= 0 and (fp or ev.oc):
            if ev.oc:
                self._cpu_oc[c] = clock
                self._cpu_since[c] = []
            else:
                self._cpu_since.setdefault(c, []).append(clock)
        # Check, then record: the accesses at the action, then those after it.
        for o, k in sync:
            self._access(world, ev, o, k, _Access(t, pos, clock, k, ev.index, None, False))
        if ev.plain:
            for key, kind, label, fn in ev.plain:
                self._access(world, ev, key, kind,
                             _Access(t, pos + 1, None, kind, ev.index, (label, fn), True))

    def _access(self, world, ev, key, kind, acc) -> None:
        loc = self._locs.get(key)
        if loc is None:
            loc = self._locs[key] = _Loc()
        t = acc.task
        if acc.late or loc.has_late:
            vc = self._vc[t]
            w = loc.w
            if w is not None and w.task != t and (acc.late or w.late) and vc[w.task] < w.pos:
                self._report(world, ev, w, acc)
                return
            if kind != _R:
                for (u, rk, lt), r in loc.reads.items():
                    if u != t and (acc.late or lt) and _conflict(kind, rk) and vc[u] < r.pos:
                        self._report(world, ev, r, acc)
                        return
        if kind == _W:
            loc.w = acc
            loc.reads = {}
            loc.has_late = acc.late
        else:
            loc.reads[(t, kind, acc.late)] = acc
            if acc.late:
                loc.has_late = True

    def _report(self, world, ev, first, second) -> None:
        tasks = world.tasks
        a, b = _describe(world, first), _describe(world, second)
        what = (second.what or first.what)[0]
        late = second if second.late else first
        world.report(self.name,
                     f"data race on {what}: {tasks[second.task].name} {_VERB[second.kind]} it {b}, "
                     f"unordered with {tasks[first.task].name}'s {_noun(first.kind)} {a}: no lock "
                     f"or atomic access orders them.  Hold the same lock on both sides, or if the "
                     f"kernel really does this unlocked (READ_ONCE/WRITE_ONCE), make "
                     f"{tasks[late.task].name}'s access {_describe(world, late)} a step of its "
                     f"own: yield an access of the object before it",
                     task=second.task, steps=tuple(sorted({first.step, second.step})))


def _join(vc, clock) -> None:
    for i, x in enumerate(clock):
        if x > vc[i]:
            vc[i] = x


def _noun(kind) -> str:
    return {A.R: "read", A.W: "write"}.get(kind, "update")


def _describe(world, acc) -> str:
    if acc.what is not None:
        return f"in {acc.what[1]}"
    return f"at {world.events[acc.step].action.describe()}"
