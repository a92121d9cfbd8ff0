"""Data races on plain accesses: the check that makes exploring only actions complete.

The search orders *actions* (what tasks yield); a task's code between two
yields runs atomically with the action before it, and the plain accesses it
makes to shared memory (:mod:`checker.memory`) are not in the search's
footprints.  That is complete exactly when those accesses are free of data
races: then the actions' order fixes which write every plain read sees, and
one execution per Mazurkiewicz trace of the actions shows every behaviour
(the argument of CHESS, Musuvathi et al. OSDI 2008, and of loom for the
memory it tracks).  So the World runs this detector on every step of every
execution and reports a race as a violation of ``data-race``: it is either
a data race in the kernel code the model follows (KCSAN would report it) or
an access the model must make a step of its own.

Two orders are kept, as vector clocks.  The *search's* order is the actions'
own: two actions of different tasks are ordered when their footprints
conflict (the object part of the search's dependence, :mod:`checker.dependence`:
one lock, one variable with a write, one object's lifetime, one object two
``Obj.access`` steps declare; not the CPU, see :meth:`RaceDetector.step`); a
task's steps are in program order.  The *synchronisation* order (``svc``) is
the same less what two declared steps give each other: an ``Obj.access`` is
where another task may run, and the search runs both orders of two of them,
but it synchronises nothing (a lock, a Var's operation, a lifetime's free or
put, program order do).  A step has two positions: its action, at
``2 * seq``, and the code after it, at ``2 * seq + 1``.  A plain access the
action declared (``yield page.desc.access()`` then page descriptor fields)
stands at the action; any other stands after it, where no edge out of the
action covers it.  Two accesses of one location of plain memory (a field, a
dict key, a list, a variable's value read by task code), by different tasks,
at least one of them a write, must be ordered by synchronisation, declared or
not: else they are the data race KCSAN reports.  Such a pair the search orders
(both declared) is no gap in the search, so when ``data-race`` is not checked
it is dropped, not counted against completeness.  A declared store of the
value the field already holds is a read here (KCSAN's default configuration,
``KCSAN_REPORT_VALUE_CHANGE_ONLY`` with ``KCSAN_ASSUME_PLAIN_WRITES_ATOMIC``,
does not report it; the search runs every order of it, so where a store does
change the value it is a write).  Fields declared ``atomic`` (``atomic_long_t``,
or a field the kernel only reads and writes marked) are marked: two of their
accesses never race (the kernel's atomics do not), but the search orders
steps by their actions only, so an unordered pair of them (but two adds,
``x += n``, which commute), one standing after its action, makes the search
incomplete, as an unreported race does, instead of being a violation; ghost
state likewise.  Those two are judged by the search's order.

Under a weak memory model (:mod:`checker.memory_model`, ``weak``) a Var's
actions order tasks only as their ordering says (release -> acquire
reads-from, fences: the model's ``Machine.sync``, called here once the step's
position is known), an ``Obj.access`` orders nothing, and every plain access
is checked, declared or not: the races C11 and KCSAN see.

Lifetimes too: a use of memory that a free of its owner could precede (a
plain access after an action, or an action on a lock or variable that lives
in the object, such as a page's lock) is a race with that free, reported as
the use after free it allows (``no-free-while-mapped``).  When an object is freed (``free()``, or
the put that drops its last reference) every plain access to its memory
that stood after its action must happen before some put or free of it
(while a task holds a reference, its own put comes after its use); one that
does not could have come after the free in another order.
"""

from __future__ import annotations

from . import actions as A
from .ghost import GhostLabel
from .memory import MarkedLabel

_R, _W, _ADDS = A.R, A.W, A.ADDS
_WEAK_VAR_OPS = frozenset((A.READ, A.WRITE, A.RMW, A.CMPXCHG, A.SPIN, A.ADD))
_conflict = A.conflict
_LIFETIME_OPS = frozenset((A.FREE, A.ALLOC, A.ADD))     # may end or start a lifetime
_VERB = {A.R: "reads", A.W: "writes", A.ADDS: "updates", A.PUTS: "puts"}
_NOUN = {A.R: "read", A.W: "write"}


class _Access:
    __slots__ = ("task", "pos", "clock", "kind", "step", "label", "fn", "late", "sclock", "decl",
                 "once", "soft")

    def __init__(self, task, pos, clock, kind, step, label, fn, late, sclock=None, decl=False,
                 once=False, soft=False):
        self.task = task
        self.pos = pos
        self.clock = clock      # the task's clock then (orders what follows), None if late
        self.kind = kind
        self.step = step
        self.label = label      # what the location is, for a plain access
        self.fn = fn            # the kernel function of a late access
        self.late = late
        self.sclock = sclock    # the task's synchronisation clock then (sc), None if late
        self.decl = decl        # an Obj.access action: it orders nothing by itself
        self.once = once        # a marked access (READ_ONCE/WRITE_ONCE/data_race()), declared
        # A read of a put's free check when the put does not free (the kernel makes none):
        # judged by the search's order only, against what stands after its action.
        self.soft = soft


def _kcsan_silent(a, b) -> bool:
    """Whether two unordered conflicting accesses of plain memory, both declared (the
    search runs both orders of them), are no data race by their marking (docs/design.md,
    "Marked and plain accesses"): both marked, or a marked read against a plain write
    (``CONFIG_KCSAN_ASSUME_PLAIN_WRITES_ATOMIC``, the default: a plain aligned store of
    a word is taken as atomic against a marked load).  A plain read races with any
    write; two plain writes race (the default would not report two word stores; a field
    here may stand for more than a word, a list head, a stats array, and the lost store
    is what a lock is for).  An undeclared access, standing after its action, is never
    silent: the search did not order it, whatever the kernel's marking."""
    if a.late or b.late or not (a.once or b.once):
        return False
    if a.once and b.once:
        return True
    return (b if a.once else a).kind == _W     # the plain one: a write is taken as atomic


class _Loc:
    """A location's history: the last write and, since it, each task's latest reads."""

    __slots__ = ("w", "reads", "has_late")

    def __init__(self):
        self.w = None
        self.reads = {}
        self.has_late = False


class RaceDetector:
    """Vector clocks over one execution's actions (one per World).

    A detector made with ``kept=True`` (``explore``'s) logs how to undo each
    step, so that the next execution can start from it (:meth:`kept`): the
    steps it shares with this one are skipped, the rest undone
    (checker/race_prefix.py says why that is the detector a fresh run gives).
    """

    __slots__ = ("vc", "svc", "locs", "uses", "lives", "reported", "weak", "_keys", "_undo", "_log",
                 "_at")

    def __init__(self, ntasks: int, kept: bool = False):
        # weak: a weak memory model (checker.memory_model) runs: a Var's actions
        # order tasks only as their ordering says (the model's sync), an
        # Obj.access is a plain access, and every plain access is checked.
        self.weak = False
        self.vc = [[0] * ntasks for _ in range(ntasks)]
        # sc's synchronisation clocks: the order above less what an Obj.access alone
        # gives (two declared accesses conflict for the search, but synchronise
        # nothing); the race check on plain memory reads these.
        self.svc = [[0] * ntasks for _ in range(ntasks)]
        self.locs = {}
        self.uses = {}          # lifetime uid -> late plain accesses of its memory not yet judged
        self.lives = {}         # lifetime uid -> (task, clock, frees) of its puts, frees, allocs
        self.reported = False
        # Kept across executions: each step's key (task, choice, relaxed locks) and
        # undo record (checker/race_prefix.py); ``_log``: the running step's record;
        # ``_at``: the steps of this execution matched so far, -1 once one differs.
        self._keys = [] if kept else None
        self._undo = [] if kept else None
        self._log = None
        self._at = -1

    @classmethod
    def kept(cls, last, ntasks: int):
        """The detector for an execution of ``explore``: ``last`` (the one of the
        execution before, if :meth:`reusable`) started again, or a new one."""
        if last is None or len(last.vc) != ntasks:
            return cls(ntasks, kept=True)
        last._at = 0
        return last

    def reusable(self, world) -> bool:
        """Whether the next execution may start from this detector: it logged its
        steps and the execution found nothing (a finding leaves state behind that
        the log does not undo, and its monitors may group steps otherwise)."""
        return (self._keys is not None and not self.weak and not self.reported
                and not world.violations and not world.unreported)

    def step(self, world, ev, relaxed=()) -> None:
        """Order step ``ev`` and check its accesses.  ``relaxed``: locks the search
        takes this step to only need free (a guarded section found them free and
        left them free, :class:`checker.reductions.GuardedSections`): its
        operations on them are reads here too, so that two such sections order
        nothing, as they order nothing for the search."""
        keys = self._keys
        if keys is not None:
            i = self._at
            if i >= 0:
                if i < len(keys) and not world.violations:
                    k = keys[i]
                    if k[0] == ev.task and k[1] == ev.choice and k[2] == (relaxed or None):
                        self._at = i + 1        # the same step from the same state: done
                        return
                rewind(self, i)
                self._at = -1
            keys.append((ev.task, ev.choice, frozenset(relaxed) if relaxed else None))
            self._log = log = [ev.task, self.vc[ev.task][:], self.svc[ev.task][:]]
            self._undo.append(log)
        t = ev.task
        vc = self.vc[t]
        svc = self.svc[t]
        pos = 2 * ev.seq
        vc[t] = svc[t] = pos
        fps = ev.fps
        if fps is None:
            if not ev.kind:
                if ev.plain is None and ev.dead is None and not self.weak \
                        and ev.action.op not in _LIFETIME_OPS:
                    # Touches nothing (a label, a preemption toggle, a choice): it
                    # orders nothing and is checked against nothing; its position
                    # in program order is all (vc[t] above).
                    return
                fp = ()
            else:
                fp = ((ev.obj, ev.kind),)
        else:
            fp = tuple((o, k) for o, k, _, _ in fps)
        if relaxed:
            fp = tuple((o, _R if o in relaxed else k) for o, k in fp)
        locs = self.locs
        skip = ()
        decl = ev.action.op == A.ACCESS
        if self.weak:
            skip = self._weak(world, ev, t, pos)
        for o, k in fp:
            if o in skip:
                continue
            loc = locs.get(o)
            if loc is None:
                continue
            w = loc.w
            if w is not None and w.task != t and w.clock is not None:
                _join(vc, w.clock)
                _join(svc, w.sclock)
            # Not only a write: a read conflicts with the additions and puts since
            # the last write (kept with the reads: they commute with each other).
            for r in loc.reads.values():
                if r.task != t and r.clock is not None and _conflict(k, r.kind):
                    _join(vc, r.clock)
                    if not (decl and r.decl):
                        _join(svc, r.sclock)
        # Not ordered by their CPU: two atomic sections of one CPU are one step
        # each for the search, ordered only through what their actions touch,
        # so a race must not depend on the CPU's order either (a verdict the
        # same for every execution of a trace; bench/fuzz_dpor.py seed 52).
        clock = tuple(vc)
        sclock = tuple(svc)
        if self.reported:
            return          # one race per execution is enough to say it
        for o, k in fp:
            if o in skip:
                # Orders nothing under a weak model: the plain accesses that follow an
                # Obj.access are checked field by field, the Var's by the model's sync.
                # A Var's action is still an access that task code reading the Var's
                # value plainly must be ordered with (atomics race only with plain ones).
                if ev.action.op != A.ACCESS:
                    self._access(world, ev, o, _Access(t, pos, clock, k, ev.index, None, None, False),
                                 atomic=True)
                continue
            loc = locs.get(o)
            log = self._log
            if loc is None:
                loc = locs[o] = _Loc()
                if log is not None:
                    log.append((_NEW, o, None))
            elif loc.has_late:
                self._access(world, ev, o, _Access(t, pos, clock, k, ev.index, None, None, False,
                                                   sclock, decl))
                continue
            # No plain access after an action here yet: only the ordering matters.
            acc = _Access(t, pos, clock, k, ev.index, None, None, False, sclock, decl)
            if decl:
                # Kept beside the others, a write too: the edges out of a declared step
                # are not those of the steps before it (two declared steps order
                # nothing), so it stands in for none of them; each task's latest of a
                # kind stands in for its earlier ones (program order).
                reads = loc.reads
                rk = (t, k, False, True)
                if log is not None:
                    log.append((loc, loc.w, reads, loc.has_late, rk, reads.get(rk, _ABSENT)))
                reads[rk] = acc
            elif k == _W:
                if log is not None:
                    log.append((loc, loc.w, loc.reads, loc.has_late, None, None))
                loc.w = acc
                loc.reads = {}
            else:
                reads = loc.reads
                rk = (t, k, False)
                if log is not None:
                    log.append((loc, loc.w, reads, loc.has_late, rk, reads.get(rk, _ABSENT)))
                reads[rk] = acc
        plain = ev.plain
        if plain:
            for key, kind, late, label, life, fn, marked, once in plain:
                soft = marked == "check"
                if soft:
                    marked = False
                if marked:
                    if marked == "add":
                        kind = _ADDS    # commutes with another add, not with a read or set
                    elif marked == "same":
                        if not self.weak:
                            # A declared store of the value already there: KCSAN's
                            # default configuration reports no race with it, and the
                            # search runs every order of it, in which a store that does
                            # change the value is one.  For the race check, a read.
                            kind = _R
                        marked = False
                acc = _Access(t, pos + 1 if late else pos, None if late else clock, kind,
                              ev.index, label, fn, late, None if late else sclock, False, once,
                              soft)
                if key is not None:
                    self._access(world, ev, key, acc)
                if life is not None and (late or key is None):
                    # A use of memory in a freeable object that the action did not
                    # order against its free (a plain access after the action, or a
                    # lock living in a page): judged when the object is freed.
                    if key is None:
                        acc.fn = world.events[ev.index].action.describe()
                    if self._log is not None:
                        self._log.append((_USES, life, life in self.uses))
                    self.uses.setdefault(life, []).append(acc)
        a = ev.action
        op = a.op
        if op == A.FREE or op == A.ALLOC or (op == A.ADD and a.arg2 is not None):
            obj = a.obj if op != A.ADD else a.arg2[0]
            self._lifetime(world, ev, obj, clock, op != A.ALLOC)
        if ev.dead and not self.reported:
            self._dead_uses(world, ev, vc)

    def _weak(self, world, ev, t, pos):
        """Under a weak model: the step's synchronisation, and the uids whose conflicts
        do not order it (a Var's, an Obj.access's objects), or ()."""
        world.mm.sync(t, pos)
        a = ev.action
        op = a.op
        if op in _WEAK_VAR_OPS or op == A.ACCESS:
            return a.uids() if op == A.ACCESS else (a.obj.uid,)
        return ()

    def _access(self, world, ev, key, acc, atomic: bool = False) -> None:
        """Check ``acc`` against the location's history, then record it.  ``atomic``:
        a Var's action under a weak model, checked against the plain accesses of its
        value only (an atomic races with a plain access, not another atomic)."""
        loc = self.locs.get(key)
        log = self._log
        if loc is None:
            loc = self.locs[key] = _Loc()
            if log is not None:
                log.append((_NEW, key, None))
        t = acc.task
        kind = acc.kind
        if not self.weak:
            if self._unordered(world, loc, acc):
                return
        else:
            strict = acc.late or not atomic
            vc = self.vc[t]
            w = loc.w
            if w is not None and w.task != t and (strict or w.late) and vc[w.task] < w.pos \
                    and not _kcsan_silent(w, acc):
                self._report(world, w, acc)
                return
            for r in loc.reads.values():
                if r.task != t and (strict or r.late) and _conflict(kind, r.kind) \
                        and vc[r.task] < r.pos and not _kcsan_silent(r, acc):
                    self._report(world, r, acc)
                    return
        if kind == _W:
            if log is not None:
                log.append((loc, loc.w, loc.reads, loc.has_late, None, None))
            loc.w = acc
            loc.reads = {}
            loc.has_late = acc.late
        else:
            reads = loc.reads
            # A marked read stands beside the same task's plain one: it does not stand in
            # for it (a write another task makes races with the plain one only).
            rk = (t, kind, acc.late, "once") if acc.once else (t, kind, acc.late)
            if log is not None:
                log.append((loc, loc.w, reads, loc.has_late, rk, reads.get(rk, _ABSENT)))
            reads[rk] = acc
            if acc.late:
                loc.has_late = True

    def _unordered(self, world, loc, acc) -> bool:
        """On sc: report ``acc`` if an access of another task in ``loc``'s history
        conflicts with it unordered.  Plain memory (a struct field, a container, a
        Var's value read by task code) by the synchronisation clocks, declared or not:
        the race KCSAN would see.  An atomic field or ghost state by the search's
        order, and only where one of the two stands after its action (a declared
        pair is in the footprints, so the search runs both orders)."""
        t = acc.task
        kind = acc.kind
        w = loc.w
        if w is not None and w.task != t and self._races(w, acc) \
                and not _kcsan_silent(w, acc) and self._report(world, w, acc):
            return True
        for r in loc.reads.values():
            if r.task != t and _conflict(kind, r.kind) and self._races(r, acc) \
                    and not _kcsan_silent(r, acc) and self._report(world, r, acc):
                return True
        return False

    def _races(self, p, acc) -> bool:
        """Whether the earlier access ``p`` and ``acc`` race (by their order only)."""
        label = acc.label
        if label is None:
            label = p.label
            if label is None:
                return False        # two actions: the search orders them
        if type(label) is str and not (p.soft or acc.soft):
            return self.svc[acc.task][p.task] < p.pos
        return (acc.late or p.late) and self.vc[acc.task][p.task] < p.pos

    def _lifetime(self, world, ev, obj, clock, frees: bool) -> None:
        """A put, free or allocation of ``obj``: when it frees, judge the plain uses."""
        life = obj.pin_uid
        log = self._log
        if log is not None:
            log.append((_LIVES, life, life in self.lives))
        self.lives.setdefault(life, []).append((ev.task, clock, frees))
        if obj.alive:
            return
        if log is not None and life in self.uses:
            log.append((_POPPED, life, self.uses[life]))
        uses = self.uses.pop(life, ())
        lives = self.lives[life]
        for u in uses:
            if u.task == ev.task:
                continue
            if not any(c[u.task] >= u.pos for _, c, _ in lives):
                tasks = world.tasks
                how = f"{_VERB[u.kind]} {u.label} in {u.fn}" if u.late else f"uses {u.label} at {u.fn}"
                _report(world,
                    "no-free-while-mapped",
                    f"use after free: {tasks[u.task].name} {how}, which nothing orders before "
                    f"{tasks[ev.task].name}'s free of {obj.name}: in another order it comes after "
                    f"the free.  Hold a reference, or the lock the free path takes",
                    task=u.task, steps=tuple(sorted({u.step, ev.index})))
                self.reported = True
                return

    def _dead_uses(self, world, ev, vc) -> None:
        """Uses of freed memory at step ``ev``: the property reports each as a use after
        free.  When that property is not checked, one that another task's put or free
        does not order (puts commute: in another order of the same trace that put is
        the last, and the use comes before the free with nothing ordering them) is the
        lifetime race a linearisation with the use first reports: it makes the search
        incomplete, the same for every execution of the trace."""
        if world.reported is None or "no-free-while-mapped" in world.reported:
            return
        t = ev.task
        for owner, label, kind, fn in ev.dead:
            for u, c, frees in self.lives.get(owner.pin_uid, ()):
                if frees and u != t and c[u] > vc[u]:
                    tasks = world.tasks
                    world.unreported.append((
                        "no-free-while-mapped",
                        f"use after free: {tasks[t].name} {_VERB.get(kind, 'uses')} {label} in {fn}, "
                        f"which nothing orders after {tasks[u].name}'s put or free of {owner.name}: "
                        f"in another order it comes before that free, with nothing ordering them"))
                    self.reported = True
                    return

    def _report(self, world, first, second) -> bool:
        """Report the race of ``first`` and ``second``; False if it is none to report."""
        tasks = world.tasks
        a, b = _describe(world, first), _describe(world, second)
        what = second.label or first.label
        late = second if second.late else first
        if type(what) is GhostLabel:
            # Model bookkeeping, not kernel memory: no violation, but a task's steps may
            # depend on a value another task wrote in an order the search does not explore.
            world.unreported.append((
                "ghost-order",
                f"ghost state {what}: {tasks[second.task].name} {_VERB[second.kind]} it {b}, "
                f"unordered with {tasks[first.task].name}'s {_NOUN.get(first.kind, 'update')} {a}; "
                f"the search does not order ghost state, so kernel code must not depend on it: "
                f"declare the field tracked if the kernel has it, or take the lock that orders them"))
            self.reported = True
            return True
        if type(what) is MarkedLabel:
            # Atomic accesses do not race (LKMM), so this is no violation; but the
            # search orders steps by their actions, and these two are in no footprint.
            world.unreported.append((
                "atomic-order",
                f"atomic field {what}: {tasks[second.task].name} {_VERB[second.kind]} it {b}, "
                f"unordered with {tasks[first.task].name}'s {_NOUN.get(first.kind, 'update')} {a}, "
                f"and a search that orders steps by their actions does not explore their two "
                f"orders: check with --scheduler dfs, or order them (a lock both hold)"))
            self.reported = True
            return True
        declared = ""
        if not self.weak and self.vc[second.task][first.task] >= first.pos:
            # The search's order has them (their footprints conflict): it runs both orders,
            # so the race is the kernel's, and no gap in the search when it is not checked.
            if world.reported is not None and "data-race" not in world.reported:
                return False
            declared = (" (both are declared, and an Obj.access orders nothing by itself)"
                        if not (first.late or second.late) else
                        " (only declared accesses, Obj.access, order them: they synchronise nothing)")
        _report(world,
            "data-race",
            f"data race on {what}: {tasks[second.task].name} {_VERB[second.kind]} it {b}, "
            f"unordered with {tasks[first.task].name}'s {_NOUN.get(first.kind, 'update')} {a}: "
            f"no lock or atomic access orders them{declared}.  Hold the same lock on both sides, "
            f"or if the kernel really does this unlocked with marked accesses (READ_ONCE/"
            f"WRITE_ONCE/data_race()), make {tasks[late.task].name}'s access "
            f"{_describe(world, late)} a step of its own that says so, yield "
            f"obj.access(marked=True) before it, and mark the other side too (a plain read "
            f"races with any write)",
            task=second.task, steps=tuple(sorted({first.step, second.step})))
        self.reported = True
        return True


from .race_prefix import _ABSENT, _LIVES, _NEW, _POPPED, _USES, rewind  # noqa: E402


def _report(world, prop, message, task=None, steps=()) -> None:
    """A finding: a violation if its property is being checked; else kept, and the
    search says it is incomplete (its completeness rests on there being none)."""
    if world.reported is None or prop in world.reported:
        world.report(prop, message, task=task, steps=steps)
    else:
        world.unreported.append((prop, message))


def _join(vc, clock) -> None:
    for i, x in enumerate(clock):
        if x > vc[i]:
            vc[i] = x


def _describe(world, acc) -> str:
    if acc.fn is not None:
        return f"in {acc.fn}"
    return f"at {world.events[acc.step].action.describe()}"
