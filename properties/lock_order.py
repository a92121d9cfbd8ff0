"""``lock-order``: lockdep's lock-order rules, over every explored execution.

Implements what kernel/locking/lockdep.c checks at ``lock_acquire()`` for
process context (Documentation/locking/lockdep-design.rst), minus the IRQ
state rules:

* *Classes, not instances*: the graph's nodes are ``(Lock.cls, subclass)``;
  two zspages' locks are one class.  Locks with ``lockdep=False``
  (``PageLock``: ``PG_locked`` is invisible to lockdep) are ignored.
* *Dependencies*: when a task starts a blocking acquisition of ``next``, an
  edge ``prev -> next`` is added for the locks it holds, walking its held
  stack from the top and stopping after the first lock that was not
  trylocked (``check_prevs_add()``: older locks are already connected to that
  one).  A trylock is never a ``next``: it adds no edge into the trylocked
  lock, skips the recursion check and cannot wait, but once held it is a
  ``prev`` for the task's later blocking acquisitions.  ``LockMap``
  annotations count as the kernel's ``rwsem_acquire*`` do: ``acquire`` is a
  blocking acquisition, ``try_acquire`` a trylock.  ``local_lock()`` on
  !PREEMPT_RT is ``preempt_disable()`` plus ``local_lock_acquire()`` of its
  ``dep_map``: an exclusive blocking acquisition for lockdep (the preempt
  action carries the lock, :class:`checker.LocalLock`).
* *Read/write rules*: edges carry lockdep's dependency kinds and only a
  closed *strong* path is a deadlock (see :mod:`.lockdep_graph`).  What is a
  recursive reader is precise: in process context ``read_lock()`` of a
  queued rwlock (every ``rwlock_t`` on the architectures that matter) is a
  *non-recursive* read (``read_lock_is_recursive()`` is false unless
  ``in_interrupt()``; commit e918188611f0 "locking: More accurate annotations
  for read_lock()"), and ``down_read()`` and ``rwsem_acquire_read()`` are
  non-recursive too.  So every shared acquisition is non-recursive, unless
  the lock says otherwise with a true ``recursive_read`` attribute (a model
  of an interrupt-context reader, or of a ``!CONFIG_QUEUED_RWLOCKS`` rwlock,
  subclasses ``RwLock`` with ``recursive_read = True``).
* *Recursion*: acquiring a class the task already holds is "possible
  recursive locking detected" (``check_deadlock()``), except a recursive read
  over a held read, or a different subclass: ``acquire(nested=N)``.
* *Across executions*: the graph lives for the whole ``explore()`` call, so
  a cycle is reported as soon as the union of the explored executions
  contains it, even if no execution interleaved its tasks (two tasks taking
  A->B and B->A that can never overlap are reported, as lockdep would).

Everything runs in ``on_pending``: lockdep validates an acquisition when it
is attempted, before any waiting, and what the task holds is its own, so the
verdict does not depend on the interleaving (and a deadlocked run still
contributes the acquisitions it never completed).  Each task's held stack
(subclass, trylock, step of each hold) is kept there too: a task's lock
action is applied when the task yields its next action, right after the
step that performed it (its result says whether a trylock succeeded).  One
hook instead of two halves the monitor's cost per step.

Each edge remembers where it was first seen (:class:`Edge`): the run (the
number of executions started so far), the task, the acquisition of the held
lock (step) and the attempt (after which step), and the schedule of that run
up to there.  The report of a cycle lists every edge of it that way: both
acquisition chains of an ABBA, with their steps.  The zsmalloc order is
``page_lock -> pool->lock -> class->lock -> zspage->lock``
(zsmalloc-protocol.md section 3); hazards 4, 20, 21 of section 4 break it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from checker import InternalError, Monitor, UsageError
from checker import actions as A

from ._report import lock_name
from .lockdep_graph import KIND_NAMES, LockGraph, class_name


@dataclass(slots=True, frozen=True)
class Edge:
    """Where a dependency ``prev -(kind)-> next`` was first seen."""

    prev: str
    next: str
    kind: str
    run: int              # 1-based: the run-th execution started by the search
    task: str
    held: str             # how prev was held, e.g. "pool->lock (read)"
    held_step: int        # step that took prev
    action: str           # the acquisition of next, e.g. "acquire(class->lock)"
    after_step: int       # the task's last step before attempting it (-1: none)
    schedule: tuple = ()  # (task, choice) of every step of that run up to after_step
    # What a reader of a report across scenarios needs (properties/lockdep_global.py):
    # the kernel functions the task was in when it attempted next, outermost first,
    # and every lock it held then, oldest first (lockdep's "held locks").
    chain: tuple = ()
    held_locks: tuple = ()


# A hold in a task's stack: (lock, class key, shared, trylock, step that took it).
# Tuples, not objects: one is built for every lock step of every execution.
_LOCK, _KEY, _SHARED, _TRY, _STEP = range(5)
_ACQUIRE, _TRYLOCK, _RELEASE = A.ACQUIRE, A.TRYLOCK, A.RELEASE
_PREEMPT_DISABLE, _PREEMPT_ENABLE = A.PREEMPT_DISABLE, A.PREEMPT_ENABLE


class LockOrder(Monitor):
    name = "lock-order"
    description = "lockdep: no cycle in the lock-class order of all explored executions"

    def __init__(self, seed=None):
        """``seed``: a LockGraph of dependencies already seen elsewhere (the
        other subtrees of a split search), which every exploration starts from."""
        self.seed = seed
        self.graph = LockGraph()
        self.runs = 0
        self._world = None       # the execution the per-task state below belongs to
        self._held = []          # per task: the holds of this execution, oldest first
        self._pend = []          # per task: its pending lock action, applied at its next yield
        self._reported = set()   # frozensets of the (prev, next) pairs of reported cycles

    def on_explore_start(self, program):
        self.graph = self.seed.copy() if self.seed is not None else LockGraph()
        self.runs = 0
        self._reported = set()
        self._world = None

    def carry_over(self) -> LockOrder:
        """The next program's monitor starts from this graph: one boot's lockdep."""
        return LockOrder(seed=self.graph.copy())

    # -- a split search (Monitor.export_state, Monitor.merge) -----------------------
    def export_state(self) -> list:
        """The dependencies found, in order, as ``(prev, next, kind, fields of the Edge)``."""
        return [(p, n, k, asdict(e)) for (p, n, k), e in self.graph.first.items()]

    def merge(self, states):
        """The subtrees' graphs joined in order: each dependency that closes a new
        cycle is replayed in the run that found it, against the graph of what
        came before (the ``seed``), which reports the cycle as a serial search
        would have."""
        merged = LockGraph()
        for state in states:
            for prev, nxt, kind, edge in _dependencies(state):
                if (prev, nxt, kind) in merged:
                    continue        # adds nothing (LockGraph.add): no copy of the graph
                before = merged.copy()
                if merged.add(prev, nxt, kind, edge) is not None:
                    yield LockOrder(seed=before), edge.schedule

    # -- the one hook ---------------------------------------------------------------
    def on_pending(self, world, t, a):
        if world is not self._world:
            # A new execution.  on_pending runs while the World is being built,
            # before on_execution_start, so the World's identity marks it.
            self._world = world
            self.runs += 1
            self._held = [[] for _ in world.tasks]
            self._pend = [None] * len(world.tasks)
        i = t.index
        pend = self._pend
        prev = pend[i]
        if prev is not None:
            ev = world.events[-1]
            if ev.action is not prev:
                raise InternalError(f"lock-order: {t.name} yielded again before its {prev.describe()} ran")
            self._commit(ev, self._held[i])
        op = a.op
        if op > _RELEASE:
            # local_lock() on !PREEMPT_RT: preempt_disable() and a lockdep
            # acquisition of its dep_map (checker.objects.LocalLock).
            if (op != _PREEMPT_DISABLE and op != _PREEMPT_ENABLE) or a.arg2 is None:
                pend[i] = None
                return
            pend[i] = a
            if op == _PREEMPT_ENABLE or not self._held[i]:
                return
            lk, key = a.arg2, (a.arg2.cls, 0)
        elif op < _ACQUIRE or not a.obj.lockdep:
            pend[i] = None
            return
        else:
            pend[i] = a
            if op != _ACQUIRE:
                return
            if not self._held[i]:
                return
            lk = a.obj
            key = (lk.cls, a.arg2 or 0)
        stack = self._held[i]
        recursive = a.arg and getattr(lk, "recursive_read", False)
        for h in stack:
            if h[_KEY] == key and not (recursive and h[_SHARED]):
                self._recursive_locking(world, t, a, lk, h, key)
                return
        adj = self.graph.adj
        rbit = 1 if recursive else 0
        for h in reversed(stack):
            hk = h[_KEY]
            if hk != key:
                kind = 1 << ((2 if h[_SHARED] else 0) + rbit)      # kind_of(), inlined
                out = adj.get(hk)
                if out is None or not out.get(key, 0) & kind:
                    self._depend(world, t, a, h, key, kind)
            if not h[_TRY]:
                break

    @staticmethod
    def _commit(ev, stack):
        """Apply the task's previous lock action, performed by ``ev`` (its latest step)."""
        a = ev.action
        op = a.op
        lk = a.obj
        if op > _RELEASE:       # local_lock()/local_unlock() on !PREEMPT_RT
            lk = a.arg2
            if op == _PREEMPT_DISABLE:
                stack.append((lk, (lk.cls, 0), False, False, ev.index))
                return
            op = _RELEASE
        if op == _RELEASE:
            for k in range(len(stack) - 1, -1, -1):
                if stack[k][0] is lk:
                    del stack[k]
                    return
        elif op == _TRYLOCK:
            if ev.result:
                stack.append((lk, (lk.cls, 0), a.arg, True, ev.index))
        else:
            stack.append((lk, (lk.cls, a.arg2 or 0), a.arg, False, ev.index))

    def _depend(self, world, t, a, h, key, kind):
        graph = self.graph
        after = len(world.events) - 1
        edge = Edge(class_name(h[_KEY]), class_name(key), KIND_NAMES[kind], self.runs, t.name,
                    _hold_desc(h), h[_STEP], _attempt(a), after,
                    tuple((e.task, e.choice) for e in world.events),
                    _call_chain(t.gen), tuple(_hold_desc(x) for x in self._held[t.index]))
        cycle = graph.add(h[_KEY], key, kind, edge)
        if cycle is None:
            return
        pairs = frozenset((u, v) for u, v, _ in cycle)
        if pairs in self._reported:
            return
        self._reported.add(pairs)
        self._report_cycle(world, t, cycle)

    # -- reports ------------------------------------------------------------------
    def _report_cycle(self, world, t, cycle):
        first = self.graph.first
        edges = [first[c] for c in cycle]
        path = " -> ".join([edges[0].prev] + [e.next for e in edges])
        new = edges[0]
        head = (f"possible circular locking dependency: {t.name} is trying to take {new.next} "
                f"while holding {new.prev}, and the lock classes already depend the other way: {path}")
        lines = [head]
        steps = []
        # The earlier executions the cycle needs (a seed's edges come from other
        # searches), in order: a trace replays them first.
        seeded = self.seed.first if self.seed is not None else {}
        here = [c for c, e in zip(cycle, edges) if e.run == self.runs and seeded.get(c) is not e]
        runs = {}      # (0, position in the seed) or (1, run) -> the longest schedule of it
        for c, e in zip(cycle, edges):
            if c not in here:
                k = (0, list(seeded).index(c)) if seeded.get(c) is e else (1, e.run)
                if len(e.schedule) >= len(runs.get(k, ())):
                    runs[k] = list(e.schedule)
        for i, e in enumerate(edges):
            where = "this execution" if cycle[i] in here else f"run {e.run}"
            then = f"then {e.action}"
            if e.after_step != e.held_step:
                then += f" after step {e.after_step}"
            lines.append(f"  #{i} {e.prev} -({e.kind})-> {e.next}: {e.task} took {e.held} at step "
                         f"{e.held_step}, {then} ({where})")
            if cycle[i] in here:
                steps.append(e.held_step)
                steps.append(e.after_step)
        world.report(self.name, "\n".join(lines), task=t.index, steps=sorted(set(steps)),
                     runs=[runs[k] for k in sorted(runs)])

    def _recursive_locking(self, world, t, a, lk, h, key):
        how = (" for read" if a.arg else " for write") if lk.rw else ""
        hl = h[_LOCK]
        if hl is lk:
            held = "it"
            hint = ""
        else:
            held = lock_name(hl)
            hint = "; if the nesting is ordered, annotate the inner one with acquire(nested=N)"
        if hl.rw:
            held += " for read" if h[_SHARED] else " for write"
        world.report(self.name,
                     f"possible recursive locking detected: {t.name} takes {lock_name(lk)}{how} "
                     f"while already holding {held}, same lock class {class_name(key)}{hint}",
                     task=t.index, steps=[h[_STEP]])


def _dependencies(state):
    """The ``(prev, next, kind, Edge)`` of an exported state, which may have been JSON."""
    try:
        out = []
        for prev, nxt, kind, edge in state:
            e = dict(edge)
            e["schedule"] = tuple((int(t), c) for t, c in e.get("schedule", ()))
            out.append((_freeze(prev), _freeze(nxt), int(kind), Edge(**e)))
    except (TypeError, ValueError) as exc:
        raise UsageError(f"lock-order: a subtree's dependencies are damaged ({exc})") from None
    return out


def _freeze(x):
    """JSON lists back into the tuples they were (lock classes)."""
    if isinstance(x, list):
        return tuple(_freeze(y) for y in x)
    return x


def _attempt(a) -> str:
    """``acquire(class->lock)``; ``local_lock(zs_map_area[0].lock)`` for the annotation
    a !PREEMPT_RT local_lock() carries on its preempt_disable()."""
    if a.op == _PREEMPT_DISABLE:
        return f"local_lock({a.arg2.name})"
    return a.describe()


def _call_chain(gen) -> tuple:
    """The generator functions a task is suspended in, outermost first: the model's
    kernel functions (``zs_free``, ``free_zspage``, ...), lockdep's "at: function"."""
    out = []
    while gen is not None and hasattr(gen, "gi_code"):
        out.append(gen.gi_code.co_name)
        gen = gen.gi_yieldfrom
    return tuple(out)


def _hold_desc(h) -> str:
    """``B``, ``B (read)``, ``B (trylock)``, ``B (read, trylock)``."""
    notes = []
    if h[_LOCK].rw:
        notes.append("read" if h[_SHARED] else "write")
    if h[_TRY]:
        notes.append("trylock")
    name = class_name(h[_KEY])
    return f"{name} ({', '.join(notes)})" if notes else name
