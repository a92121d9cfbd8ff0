"""Sections on a CPU shared by several tasks when other CPUs have tasks too (issue 18).

:class:`~checker.reductions.MacroSteps` makes an atomic section one step when
every task shares one CPU: nobody else can run meanwhile.  With several CPUs
the tasks of the other CPUs can, so a section stays split into steps, and
every start and end of a section is ordered against every visible step of
its CPU's other tasks (``Event.oc``): on four roles on two CPUs that is
hundreds of thousands of traces where one CPU each has two thousand.

:class:`MixedSections` groups a section anyway, by Lipton's reduction
checked on the run.  A task that owns its shared CPU (atomic) continues
its step with its next one while that step is a *mover* against the other
CPUs' tasks:

* every object the step's action touches is *protected*: each action of a
  task of another CPU on that object, in a conflicting way, is taken while
  holding a lock that this task holds now, one of the two exclusively (the
  two cannot overlap, so no such action can come between the section's
  steps); or
* it releases a lock that no task of another CPU ever trylocks (the release
  moves left over any step that could come between: an exclusive
  acquisition cannot, a shared one commutes with it).

The first step of a group may be anything (Lipton's one non-mover) but a
choice, which is a step of its own (its values must touch nothing: dpor's
sleep sets and wakeup trees treat them as events of one node).  The
CPU's own other tasks cannot run inside the section at all.  So every
execution in which another CPU's steps fall between a group's steps is
equivalent, by exchanging independent actions, to one in which they come
after the group (docs/design.md, "Mixed sections").

*Protected* is a claim about every execution, so it is learned and checked,
as guarded sections are (Stoller 2002): :class:`Protection` keeps, per object
and CPU, the locks held at every action of another CPU's task on it seen so
far (nothing seen: no such action, the strongest claim) and whether such a
task trylocks it.  Every step of the search is checked against the table.
A step that weakens an entry some group already relied on raises
:class:`ProtectionRefined` and ``explore`` starts again with the weaker
table; an entry nobody relied on is weakened in place (every group formed so
far would be formed the same way).  The final search is a reduced search
whose every step respected the table it used.
"""

from __future__ import annotations

from . import actions as A
from .reductions import GuardBroken, _Sections, _weak_choice
from .world import Event


class ProtectionRefined(GuardBroken):
    """A step weakened a protection some group relied on: ``explore`` starts again
    with the weaker table (the reduction stays on)."""


class Protection:
    """What the tasks of other CPUs hold when they act on an object (learned).

    ``held[(uid, cpu, conflicting)]``: ``{lock uid: exclusively}`` held at every
    action on ``uid`` of a task not on ``cpu`` (``conflicting``: of those that
    do not only read, the ones a read conflicts with); missing: none seen.
    ``tried``: ``(lock uid, cpu)`` pairs where a task not on ``cpu`` trylocked
    the lock.  ``used``: the entries a group of this search relied on; they do
    not change during the search: a weaker value waits in ``pending`` and the
    search is ``stale``.  A stale search goes on observing (its steps are real
    steps of the program) until it has run as many executions again
    (:meth:`begin`), or to its end; then ``explore`` starts again with what it
    learned (:meth:`refresh`), so restarts are few and the final search never
    went stale.
    """

    def __init__(self):
        self.held = {}
        self.tried = set()
        self.used = set()
        self.pending = {}
        self.stale_at = None        # the execution of this search that went stale
        self.runs = 0               # executions of this search
        self.restarts = 0

    @property
    def stale(self) -> bool:
        return self.stale_at is not None

    def begin(self) -> None:
        """An execution starts; a search stale for long enough stops here."""
        self.runs += 1
        if self.stale_at is not None and self.runs > max(2 * self.stale_at, self.stale_at + 50):
            raise ProtectionRefined("a learned lock discipline was weakened")

    def refresh(self) -> None:
        """Start a search again, with every weakened entry applied."""
        for key, v in self.pending.items():
            if key[0] == "tried":
                self.tried.add(key[1:])
            else:
                self.held[key] = v
        self.pending.clear()
        self.used.clear()
        self.stale_at = None
        self.runs = 0
        self.restarts += 1

    def _set(self, key, value) -> None:
        if key in self.used:
            self.pending[key] = value
            if self.stale_at is None:
                self.stale_at = self.runs
        elif key[0] == "tried":
            self.tried.add(key[1:])
        else:
            self.held[key] = value

    def observe(self, ev, held: dict, scopes) -> None:
        """Record step ``ev``, whose task held ``held`` before it, for each of
        ``scopes`` (the scopes whose other tasks it is one of)."""
        if not ev.kind:
            return
        a = ev.action
        fps = ev.fps or ((ev.obj, ev.kind, None, None),)
        pending = self.pending
        tried = a.op == A.TRYLOCK and a.obj.blocking
        for sc in scopes:
            for o, k, _, _ in fps:
                for conflicting in ((False, True) if k != A.R else (False,)):
                    key = (o, sc, conflicting)
                    old = pending.get(key, self.held.get(key))
                    new = dict(held) if old is None else \
                        {lk: x and old[lk] for lk, x in held.items() if lk in old}
                    if new != old:
                        self._set(key, new)
            if tried:
                key = ("tried", a.obj.uid, sc)
                if key[1:] not in self.tried and key not in pending:
                    self._set(key, True)

    def kind_of(self, t, a, scope) -> int:
        """How task ``t``'s pending action ``a`` moves over the steps of the tasks
        of ``scope`` (``("c", cpu)``: the tasks of the other CPUs; ``("t",
        task)``: every other task): BOTH (no footprint, or every object
        protected by a lock ``t`` holds), RIGHT (an acquisition of a lock they
        never trylock), LEFT (such a release) or NONE."""
        kind = a.footprint_kind
        if not kind:
            return BOTH
        used = self.used
        op = a.op
        if op == A.RELEASE and any(lk is a.obj and shared for lk, shared in t.held):
            kind = A.R
        mine = None
        protected = True
        for o in a.uids():
            key = (o, scope, kind == A.R)
            used.add(key)
            theirs = self.held.get(key)
            if theirs is None:
                continue
            if mine is None:
                mine = {lk.uid: not shared for lk, shared in t.held if lk.blocking}
            if not any(lk in mine and (x or mine[lk]) for lk, x in theirs.items()):
                protected = False
                break
        if protected:
            return BOTH
        if op == A.ACQUIRE or op == A.RELEASE:
            used.add(("tried", a.obj.uid, scope))
            if (a.obj.uid, scope) not in self.tried:
                return RIGHT if op == A.ACQUIRE else LEFT
        return NONE


# How a step moves (Lipton): a group is RIGHT/BOTH steps, one step of any kind,
# then LEFT/BOTH steps.
BOTH, RIGHT, LEFT, NONE = 0, 1, 2, 3


class MixedSections(_Sections):
    """Several CPUs, one of them shared: a step is followed by its task's next
    steps while they are movers (:meth:`Protection.kind_of`), enabled and no
    choice.  A group that starts with its task owning its shared CPU is an
    *atomic* group: it stops once the task is preemptible again, and only the
    other CPUs' tasks could come between its steps.  A task alone on its CPU
    makes *wide* groups: its steps must move over every other task.  A
    preemptible task on a shared CPU makes none (its CPU's other tasks could
    strand it between two steps).  A group
    that ends with its task waiting has what it waits for in its footprint."""

    can_stick = True
    needs_declarations = True

    @staticmethod
    def applies(world) -> bool:
        return world.mixed_layout

    def __init__(self, world, cap: int = 1 << 62, declared=None):
        _Sections.__init__(self, world, cap)
        self.table = declared.protection
        self.table.begin()
        shared = [c for c, s in enumerate(world.shared_cpu) if s]
        n = len(world.tasks)
        # The scopes whose other tasks each task is one of.
        self.scopes = [[("c", c) for c in shared if c != t.cpu] + [("t", q) for q in range(n) if q != t.index]
                       for t in world.tasks]
        self._scope = None
        self._after = False
        self._blocked = False       # the group stopped at a step it could have taken

    def _atomic(self, t) -> bool:
        w = self.world
        return w.shared_cpu[t.cpu] and w.owner[t.cpu] == t.index and t.pc > 0

    def _begin(self, t) -> None:
        w = self.world
        a = t.pending
        if a.op == A.CHOOSE or _weak_choice(w, t):
            # A choice is a step of its own.  Its values are events of one node;
            # one asleep there covers only the traces it starts, so it must commute
            # with every step (a choose touches nothing) or the traces in which it
            # comes after a step its group conflicts with are lost: the value taken
            # instead never meets that step (docs/design.md, "Choices in mixed
            # sections").
            self._scope = None
            self._after = True
            return
        if self._atomic(t) or (w.shared_cpu[t.cpu] and (
                a.op == A.PREEMPT_DISABLE or ((a.op == A.ACQUIRE or a.op == A.TRYLOCK)
                                              and a.obj.spinning))):
            # Atomic from its first step on (a failed trylock ends it at once).
            self._scope = ("c", t.cpu)
        elif w.shared_cpu[t.cpu]:
            # Preemptible on a shared CPU: another task of the CPU could start a
            # section that never ends between two of its steps and strand it
            # there, a deadlock no footprint shows (bench.fuzz_dpor --mixed,
            # seed 3 programs 9 and 12).  No group.
            self._scope = None
            self._after = True
            return
        else:
            self._scope = ("t", t.index)
        # Before the group's one non-mover, or after it (then only LEFT/BOTH follow).
        self._after = self.table.kind_of(t, t.pending, self._scope) not in (BOTH, RIGHT)

    def _one(self, index: int, choice) -> Event:
        w = self.world
        t = w.tasks[index]
        held = {lk.uid: not shared for lk, shared in t.held if lk.blocking}
        ev = w.step(index, choice)
        self.table.observe(ev, held, self.scopes[index])
        return ev

    def _continues(self, w, t) -> bool:
        self._blocked = False
        if (t.finished or t.pending.op == A.CHOOSE or w.violations or self._scope is None
                or _weak_choice(w, t)):
            return False
        if self._scope[0] == "c" and not self._atomic(t):
            return False
        k = self.table.kind_of(t, t.pending, self._scope)
        if k != BOTH and self._after and k != LEFT:
            return False
        if not w.action_enabled(t):
            # It would have gone on: whoever frees what it waits for changes the group.
            self._blocked = True
            return False
        if k != BOTH and not self._after:
            self._after = k != RIGHT
        return True

    def _stuck(self, t) -> bool:
        return self._blocked
