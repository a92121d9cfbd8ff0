"""The scheduling policies of :class:`model.stateful.ZsmallocMachine`'s rules.

Each runs on the engine's thread (:meth:`checker.stepper.Stepper.run`) and
picks the next step of an execution until its rule is done: :class:`Moves`
(``step``/``nudge``: a task's next moves, then single steps), :class:`Approach`
(``approach``: a task until it is about to access its n-th new page) and
:class:`Race` (``race``: every operation in flight, by PCT's priorities and
change points).
"""

from __future__ import annotations

# A *move* is one synchronisation step (a lock operation, a change of the preempt
# count, a sleep or a wait), or a run of memory steps (reads, writes, accesses,
# labels) up to the next synchronisation step or up to a load included: a task
# stops right after a release, right before an acquire and right after it read
# something it is about to use, where the windows of the catalogue's bugs open.
SYNC_OPS = frozenset({"acquire", "trylock", "release", "preempt_disable", "preempt_enable",
                      "cond_resched", "might_sleep", "sleep", "spin_until", "wait_unlocked", "choose"})
_LOADS = frozenset({"read", "access"})
_R = 1      # checker.actions.R: the footprint of a load
_RELEASES = frozenset({"release", "preempt_enable"})


class Race:
    """The policy of :meth:`ZsmallocMachine.race` (PCT's: priorities, change points
    counted in moves, so that they fall where a :meth:`~ZsmallocMachine.step` stops, or in
    releases)."""

    __slots__ = ("machine", "moves", "order", "releases", "seen", "switches")

    def __init__(self, machine, order: list, switches: list, releases: bool = False):
        self.machine = machine
        self.order = order
        self.switches = switches
        self.releases = releases
        self.moves = 0
        self.seen = len(machine.stepper.world.events) if machine.stepper.world else 0

    def __call__(self, world, enabled):
        m = self.machine
        events = world.events
        if len(events) > self.seen and (world.events[-1].action.name in _RELEASES if self.releases
                                        else _ends_a_move(world)):
            self.moves += 1
            if self.switches and self.moves >= self.switches[0] and m.last in self.order:
                self.switches.pop(0)
                self.order.remove(m.last)
                self.order.append(m.last)
        self.seen = len(events)
        for i in self.order:
            if i in enabled and m._in_flight(i):
                if i in m.current and m.caller.idle.get(m.names[i], True):
                    continue            # its operation is over (the machine notes it after)
                m.last = i
                return m._choice(i)
        return None


def _ends_a_move(world) -> bool:
    """Whether the last step ended a move of its task (see :data:`SYNC_OPS`)."""
    ev = world.events[-1]
    a = ev.action
    if a.name in SYNC_OPS or (a.name in _LOADS and a.footprint_kind == _R):
        return True
    pending = world.tasks[ev.task].pending
    return pending is not None and pending.name in SYNC_OPS


_GO_ON = object()


def _operation_step(m, i: int, enabled):
    """What a one-task policy does first: None to stop (task ``i`` cannot move, or its
    operation is over or it has none), the opening step of its next operation (the
    start of an operation is not a move), else ``_GO_ON`` (the policy decides)."""
    if i not in enabled:
        return None
    if i in m.current and m.caller.idle.get(m.names[i], True):
        return None
    opening = m._opening_step(i)
    if opening is not None:
        return opening
    if not m._in_flight(i):
        return None
    return _GO_ON


class Moves:
    """The policy of one scheduling rule: task ``i``'s next ``moves`` moves, then ``steps``
    single steps, stopping early when its operation is over or it cannot go on."""

    __slots__ = ("i", "machine", "moves", "run", "steps")

    def __init__(self, machine, i: int, moves: int, steps: int):
        self.machine = machine
        self.i = i
        self.moves = moves
        self.steps = steps
        self.run = False        # inside a move that is a run of memory steps

    def __call__(self, world, enabled):
        i = self.i
        first = _operation_step(self.machine, i, enabled)
        if first is not _GO_ON:
            return first
        pending = world.tasks[i].pending
        sync = pending.name in SYNC_OPS
        if self.moves and self.run and sync:    # a run of memory steps ends before a sync step
            self.moves -= 1
            self.run = False
        if self.moves:
            if sync or (pending.name in _LOADS and pending.footprint_kind == _R):
                self.moves -= 1                 # ... and after a load (its value is used next)
                self.run = False
            else:
                self.run = True
            return (i, None)
        if self.steps:
            self.steps -= 1
            return (i, None)
        return None


class Approach:
    """The policy of :meth:`ZsmallocMachine.approach`: task ``i`` steps until its pending
    action accesses the ``nth`` page it has not accessed since the rule began (a page's
    descriptor counts as the page), or its operation is over or it cannot go on."""

    __slots__ = ("i", "machine", "nth", "seen")

    def __init__(self, machine, i: int, nth: int):
        self.machine = machine
        self.i = i
        self.nth = nth
        self.seen = set()

    def __call__(self, world, enabled):
        m = self.machine
        i = self.i
        first = _operation_step(m, i, enabled)
        if first is not _GO_ON:
            return first
        pending = world.tasks[i].pending
        if pending.name == "access":
            page = getattr(pending.obj, "name", "").removesuffix(".zpdesc")
            if page in m.caller.pages and page not in self.seen:
                self.seen.add(page)
                if len(self.seen) == self.nth:
                    return None
        return (i, None)

