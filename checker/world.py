"""The World: the state of one execution, and the kernel semantics of a step.

This module is the engine's definition of ARCHITECTURE.md section 2.  The
search (``checker.explore`` and the schedulers) tells a World which task to
step (:meth:`World.step`) and reads of it: the enabled tasks
(:meth:`enabled`, :meth:`choices`); the tasks' ``TaskState`` (pending
action, CPU, finished, yielded); the committed events (``events``, and
``sched_events``, the steps as the scheduler took them, which the
reductions that wrap the World group: :mod:`checker.reductions`); the CPUs
(``shared_cpu``, ``owner``, ``current``); the preemption rule
(``preemptions``, :meth:`would_preempt`, :meth:`waits_sleeping`,
:meth:`would_change_owner`); whether counter additions commute
(``counters``); and how the execution ended (``deadlocked``, ``violations``,
``unreported``, ``ended_by_violation``, :meth:`all_finished`,
:meth:`blocked_description`).  ``explore`` also reads ``coverage`` and
calls the ``monitors`` hooks of a deadlock.  That is the World's interface
to the search; the rest is the semantics of a step.

CPUs and preemption
-------------------
Each task is pinned to a CPU.  A task is *atomic* while its preempt count is
non-zero; the count is raised by ``preempt_disable`` and by holding a spinning
lock (``spinlock_t``, ``rwlock_t``), as in the kernel.  An atomic task *owns*
its CPU: no other task of that CPU can take a step until it becomes
preemptible again.  A task spinning while atomic (``spin_until`` on a value,
or a spinning lock acquired inside an atomic section) therefore keeps its CPU:
if the value or lock can only be released by a task of the same CPU, no task
is enabled and the execution ends in a deadlock.

A task waiting for a held lock takes no step until the lock is free.  A
spinning-lock acquisition that would wait is modelled as not yet begun: in the
kernel the waiter could only be on the holder's CPU if the holder had been
preempted, and a holder of a spinning lock is atomic.  (The exception, a
holder that sleeps in atomic context, is reported by ``sleep-in-atomic``.)

Ownership is what makes the tasks of one CPU interact, so the step that makes a
task atomic or preemptible again (``Event.oc``) is dependent with the steps
of the other tasks of that CPU (:mod:`checker.dependence`: every visible one
for dpor, every one for the minimiser); the search needs nothing else to be
sound with CPU sharing.  ``Event.preemption`` records, for the explored ordering,
that the step switched its CPU away from a task that could have continued:
that is what the preemption bound counts.  Switching away from a finished
task, a task waiting for a sleeping lock, or one that has just called
``schedule()`` or ``cond_resched()`` is not a preemption.
"""

from __future__ import annotations

from . import actions as A
from . import config, memory_model, objects
from .budget import code_location
from .coverage import _BUILT
from .errors import InternalError, ModelError, ZsmcError
from .memory import _tls, set_recorder
from . import retryloop, spinloop
from .races import RaceDetector
from .recorder import StepRecorder
from .refs import References


# A weak memory model's operations, and those whose choices it makes.
_WEAK_OPS = frozenset((A.READ, A.WRITE, A.RMW, A.CMPXCHG, A.SPIN, A.ADD, A.FENCE))
_WEAK_CHOICES = frozenset((A.READ, A.SPIN, A.WRITE, A.RMW, A.CMPXCHG, A.ADD))


def _rmw_fn(a):
    """An RMW action's update: old value -> (new value,), or None (a failed cmpxchg)."""
    op = a.op
    if op == A.RMW:
        return lambda old: (a.arg(old),)
    if op == A.CMPXCHG:
        return lambda old: (a.arg2,) if old == a.arg else None
    return lambda old: (old + a.arg,)


def _uid(obj):
    return getattr(obj, "uid", obj)


class Bug(Exception):
    """Raised by a model for a kernel ``BUG_ON``: reported as a violation, not an error."""


class Event:
    """One committed step of an execution (not frozen: built on the hot path).

    The slots (short names: they are read on every step):

    * ``index``: position in its list (``World.events``, or ``sched_events``
      for a grouped step of :mod:`checker.reductions`); ``task``: the task's index; ``seq``: the task's
      steps in that list up to this one (1 for its first);
    * ``action``, ``result``, ``choice``: what the task yielded, what it got
      back, the value taken by a ``choose()`` (else None);
    * ``obj``, ``kind``: the footprint (uid and kind: R, W, ADDS or PUTS)
      used by the dependence relation (:mod:`checker.dependence`); ``fps``:
      the whole footprint ``((uid, kind, pre, post), ...)`` when the step
      touched several objects (a free, a put, a grouped step), else None;
    * ``pre``, ``post``: the object's state around the step (lock holders,
      variable value);
    * ``cpu``: the task's CPU when that CPU is shared (else -1); ``own``
      (owner): the task that owned that CPU before the step (None: nobody);
      ``xoc`` (changes ownership): the step made its task atomic or
      preemptible again; ``oc`` (ownership-dependent): the step is
      dependent with the CPU's other tasks on that account (``xoc``, or a
      spinning trylock that could have: a footprint must not depend on the
      step's result, or executions could not be compared);
    * ``preemption``: the step switched its CPU away from a task that could
      have continued; ``pc``: the task's preempt count after the step;
    * ``plain``: what the step's task code touched in shared memory
      (:mod:`checker.memory`, for :mod:`checker.races`): ``(key, kind, late,
      label, lifetime uid, function, marked)``; ``dead``: the uses of freed
      memory ``(owner, label, kind, function)`` (each None when empty).
    """

    __slots__ = ("index", "task", "seq", "action", "result", "choice", "obj", "kind",
                 "cpu", "oc", "xoc", "pre", "post", "own", "preemption", "pc", "fps",
                 "plain", "dead")

    def __repr__(self) -> str:
        return f"<Event {self.index} t{self.task} {self.action.describe()} -> {self.result!r}>"


class TaskState:
    """The engine's view of one task during an execution."""

    __slots__ = ("index", "name", "cpu", "role", "gen", "pending", "pc", "explicit",
                 "held", "finished", "seq", "yielded", "uids", "spin", "retry", "irq", "irqs_off",
                 "bh_off", "interrupted")

    def __init__(self, index, spec):
        self.index = index
        self.name = spec.name
        self.cpu = spec.cpu
        self.role = spec.role
        self.gen = None
        self.pending = None
        self.pc = 0              # preempt count: explicit + spinning locks held
        self.explicit = 0        # preempt_disable depth
        self.held = []           # [(lock, shared)] in acquisition order
        self.finished = False
        self.seq = 0             # steps taken
        self.yielded = False     # last step was schedule()/cond_resched() while preemptible
        self.uids = 0
        self.spin = None         # checker.spinloop's mark: (var uid, local state, (value,))
        self.retry = None        # checker.retryloop's round (None: not watched)
        # Interrupts (checker.interrupts): the handler kind, the local_irq/bh
        # disable depths, and the task a handler interrupted (its CPU's owner
        # then, given the CPU back when the handler returns).
        self.irq = spec.irq
        self.irqs_off = 1 if spec.irq == "hard" else 0     # hard handlers run with IRQs off
        self.bh_off = 1 if spec.irq == "soft" else 0        # softirqs do not nest
        if spec.irq is not None:
            self.pc = 1          # in_interrupt(): HARDIRQ_OFFSET / SOFTIRQ_OFFSET
        self.interrupted = None

    def __repr__(self) -> str:
        return f"<task {self.name} cpu{self.cpu}>"


class AbandonedYield(RuntimeError):
    """A task's code yielded while its abandoned execution was closed (a ``yield`` in
    ``except GeneratorExit`` or ``finally``); ``where``: that yield, ``FUNCTION
    (file:line)``.  Raised in :meth:`World.__del__`, so it reaches ``sys.unraisablehook``
    (the command line notes it once per place)."""

    def __init__(self, where: str):
        super().__init__(f"a task's code at {where} yields while its abandoned execution is closed")
        self.where = where


class World:
    """One execution: tasks, CPUs, shared objects and the events so far."""

    def __del__(self):
        # An execution abandoned (a violation, a cut, a merged state) has suspended tasks,
        # which Python closes when they are collected.  One that yields while closed is
        # "generator ignored GeneratorExit" on the outermost generator, whose frame is gone
        # by then: the variant's own line was lost.  Closed here, the chain of delegations
        # is known first, and the generator still suspended after close() is the one
        # that yielded, at the offending line.  What the closed code runs (a `finally`) is
        # part of no execution: recorded nowhere, whichever execution is running (the
        # collector may call this inside another's step).
        chains = []
        for t in getattr(self, "tasks", ()):
            g, chain = t.gen, []
            while g is not None and getattr(g, "gi_frame", None) is not None:
                chain.append(g)
                g = g.gi_yieldfrom
            if chain:
                chains.append(chain)
        if not chains:
            return
        # (No import here: a World still alive when the interpreter exits is collected
        # after the import system is gone, "ImportError: sys.meta_path is None".)
        rec, built = _tls.rec, set(_BUILT)
        _tls.rec = None
        where = None
        try:
            for chain in chains:
                try:
                    chain[0].close()
                except RuntimeError as exc:
                    still = [c for c in chain if c.gi_frame is not None]
                    if str(exc) != "generator ignored GeneratorExit" or not still:
                        raise
                    where = where or code_location(still[-1].gi_code, still[-1].gi_frame.f_lineno)
        finally:
            _tls.rec = rec
            _BUILT.clear()
            _BUILT.update(built)
        if where is not None:
            raise AbandonedYield(where)

    def __init__(self, program, monitors=None, build_uids=0, counters=True, reported=None,
                 races=None, replay=None, last=None, references=True):
        """``counters``: record additions to counter Vars with a commuting
        footprint, as their declaration allows while nobody waits on them (a
        wait raises :class:`~checker.reductions.CounterWaited`).  ``references``:
        record a task's read of an object it holds a reference to with a
        footprint that commutes with puts (:mod:`checker.refs`; a count that does
        not cover the references held raises
        :class:`~checker.reductions.ReferenceBroken`); not under a weak model.  ``races``: the
        race detector to run (``explore`` keeps one across executions,
        :meth:`RaceDetector.kept`); None: a new one.  A weak memory model always
        gets a new one.  ``replay``: the events of the last execution of this
        program with these monitors, which found nothing (no violation): while
        this one takes the same steps, from the same state, the monitors that
        declare ``replay_pure`` are not run (checker/monitor.py: their verdict
        at each of those steps is that execution's, silence).  ``last``: the
        events of the last execution of this program, whatever it found (default:
        ``replay``): while this one takes the same steps, each must do what it did
        there, or the program is not deterministic (a ModelError)."""
        self.program = program
        self.counters = counters
        self.refs = References() if references and program.memory_model.name == "sc" else None
        # The properties violations are reported under (None: all); the race
        # detector's findings under others are kept in ``unreported``.
        self.reported = reported
        self.unreported = []
        specs = program.specs
        self.tasks = [TaskState(i, s) for i, s in enumerate(specs)]
        ncpu = program.ncpus
        count = [0] * ncpu
        for s in specs:
            count[s.cpu] += 1
        self.shared_cpu = [c > 1 for c in count]
        # Several CPUs, one shared by several tasks: where the mixed sections, the
        # contiguity relation and its sleep rule apply (checker/mixed.py).
        self.mixed_layout = ncpu > 1 and any(self.shared_cpu)
        self.owner = [None] * ncpu
        self.current = [None] * ncpu
        self.events = []
        # The steps the search took: these events, unless a reduction wrapping
        # this World groups them (checker.reductions) and keeps its own.
        self.sched_events = self.events
        self.violations = []
        # The index of the step being performed, until its event is appended: a violation
        # reported inside an action (a put's free check, an unbalanced unlock) is that step's.
        self._stepping = None
        self.monitors = monitors
        self.preemptions = 0
        self._active = None
        self.culprit = None
        self._uid_build = build_uids
        self.deadlocked = False
        self.ended_by_violation = False
        self._replay = None
        self._hooks(False)
        if replay is not None and monitors is not None:
            self._replay = replay
            self._hooks(True)
        self._last = last if last is not None else replay
        objects.made_by_world(self._uid)
        # The program's code runs (and its locks behave) under its configuration.
        config.activate(getattr(program, "config", config.DEFAULT))
        self._rec = StepRecorder()
        # Steps whose race check waits for the end of a grouped step (checker.reductions).
        self.race_deferred = None
        # A weak memory model's store histories (checker.memory_model); None: sc.
        self.mm = None
        weak = memory_model.resolve(getattr(program, "memory_model", None)).weak
        self._races = races if races is not None and not weak else RaceDetector(len(self.tasks))
        if weak:
            self.mm = memory_model.Machine(len(self.tasks), self._races.vc)
            self._races.weak = True
        for t in self.tasks:
            if not weak:
                t.retry = retryloop.Retry()
            self._active = t
            try:
                t.gen = specs[t.index].fn()
            except ZsmcError:
                raise
            except Exception as exc:  # the task function itself failed
                raise ModelError(f"task {t.name}: calling its function raised {exc!r}") from exc
            if not hasattr(t.gen, "send"):
                raise ModelError(f"task {t.name}: its function returned {t.gen!r}, not a generator")
            self._rec.begin(t, None, prefix=True)
            self._after_resume(t, self._resume(t, None, first=True))
        self._active = None

    def _hooks(self, replaying: bool) -> None:
        """The per-step monitor lists: all, or those to run during a replay."""
        m = self.monitors
        if m is None:
            self._on_event = self._on_pending = self._on_step_end = ()
            return
        if replaying:
            r = m.replaying
            self._on_event, self._on_pending, self._on_step_end = (
                r["on_event"], r["on_pending"], r["on_step_end"])
        else:
            self._on_event, self._on_pending, self._on_step_end = (
                m.on_event, m.on_pending, m.on_step_end)

    @property
    def coverage(self) -> set:
        """What ran in this execution (:mod:`checker.coverage`)."""
        return self._rec.coverage

    # -- uids ---------------------------------------------------------------
    def _uid(self):
        t = self._active
        if t is None:
            self._uid_build += 1
            return ("b", self._uid_build)
        t.uids += 1
        return (t.index, t.uids)

    # -- enabledness ----------------------------------------------------------
    def action_enabled(self, t: TaskState) -> bool:
        """Whether ``t``'s pending action could run now, CPUs aside."""
        a = t.pending
        op = a.op
        if op == A.ACQUIRE or op == A.WAIT:
            return a.obj.available(t.index, a.arg)
        if op == A.SPIN:
            if self.mm is not None:
                return bool(self.mm.load_choices(t.index, a))
            return bool(a.arg(a.obj._value))
        return True

    def enabled(self) -> list:
        """Indices of the tasks that can take a step now, in index order."""
        out = []
        owner = self.owner
        shared = self.shared_cpu
        for t in self.tasks:
            if t.finished:
                continue
            c = t.cpu
            if shared[c]:
                o = owner[c]
                if o is not None and o != t.index and not (t.irq and not t.seq
                                                          and self.interruptible(o, t.irq)):
                    continue
            a = t.pending
            op = a.op
            if op == A.ACQUIRE or op == A.WAIT:
                if not a.obj.available(t.index, a.arg):
                    continue
            elif op == A.SPIN:
                if not (a.arg(a.obj._value) if self.mm is None
                        else self.mm.load_choices(t.index, a)):
                    continue
            out.append(t.index)
        return out

    def interruptible(self, o: int, irq: str) -> bool:
        """Whether task ``o``, owning its CPU, can be interrupted by a handler of kind
        ``irq``: a hard IRQ needs interrupts on; a softirq also needs bottom halves on
        and not to be inside a hard IRQ (the handler runs on ``irq_exit``)."""
        u = self.tasks[o]
        if u.irqs_off:
            return False
        return irq == "hard" or (not u.bh_off and u.irq != "hard")

    def all_finished(self) -> bool:
        for t in self.tasks:
            if not t.finished:
                return False
        return True

    def choices(self, index: int):
        """The choice values of task ``index``'s pending action: options or (None,)."""
        a = self.tasks[index].pending
        if a.op == A.CHOOSE:
            return a.arg
        if self.mm is not None and a.op in _WEAK_CHOICES:
            return self._weak_choices(index, a)
        return (None,)

    def _weak_choices(self, index: int, a):
        """A weak model's choices for a load (the stores it may read) or a store (its
        places in mo); (None,) when the only one is what sc would do."""
        mm = self.mm
        op = a.op
        if op == A.WRITE:
            got = mm.store_choices(index, a)
            last = len(mm.history(a.obj))
        else:
            if op == A.READ or op == A.SPIN:
                got = mm.load_choices(index, a)
            else:
                got = mm.rmw_choices(index, a, _rmw_fn(a))
            last = len(mm.history(a.obj)) - 1
        return (None,) if got == (last,) else got

    def would_change_owner(self, t: TaskState) -> bool:
        """Predicts ``Event.oc`` for ``t``'s pending action (conservative for trylocks)."""
        if not self.shared_cpu[t.cpu]:
            return False
        a = t.pending
        op = a.op
        pc = t.pc
        if op == A.PREEMPT_DISABLE or ((op == A.ACQUIRE or op == A.TRYLOCK) and a.obj.spinning):
            after = pc + 1
        elif op == A.PREEMPT_ENABLE or (op == A.RELEASE and a.obj.spinning):
            after = pc - 1
        else:
            after = pc
        owns = self.owner[t.cpu] == t.index
        if op == A.TRYLOCK and a.obj.spinning and (pc > 0) != owns:
            return True         # either result may change it
        return owns != (after > 0 and op != A.SLEEP)

    # -- stepping -------------------------------------------------------------
    def step(self, index: int, choice=None) -> Event:
        """Perform task ``index``'s pending action (``choice``: the value of a
        ``choose``); returns the committed event."""
        t = self.tasks[index]
        a = t.pending
        op = a.op
        obj = a.obj
        ev = Event()
        ev.index = len(self.events)
        ev.task = index
        ev.action = a
        ev.choice = None
        ev.pre = ev.post = None
        ev.fps = None
        ev.plain = ev.dead = None
        rec = self._rec
        rec.begin(t, ev)
        self._stepping = ev.index
        if obj is not None and obj.owner is not None:
            # The object lives in another (a page's lock in the page): using it
            # reads whether that one is alive.  A release too: it writes the lock
            # word, or lockdep's map, in that memory.  (The free of memory whose lock
            # is held is reported at the free; but a release has no footprint the
            # free conflicts with, so the order "free, then release" may never be
            # explored.  This read lets the race detector report a release nothing
            # orders before the free: red team round 4, a dep_map released after the
            # count that let the zspage be freed.)
            rec.touch_owner(obj.owner, obj.name)
        # Preemption counting on the explored ordering, judged on the state
        # before the step (a release in this step must not hide that the
        # previous task was runnable).
        ev.preemption = self.would_preempt(index)
        if ev.preemption:
            self.preemptions += 1
        res = None
        kind = A.NONE
        if self.mm is not None and op in _WEAK_OPS:
            res, kind = self._weak_step(index, a, ev, choice)
        elif op == A.READ:
            res = obj._value
            kind = A.R
            ev.pre = ev.post = res
        elif op == A.WRITE:
            ev.pre = obj._value
            obj._value = a.arg
            ev.post = a.arg
            kind = A.W
            if obj.keeps is not None and self.refs is not None:
                self.refs.check(t, obj)
        elif op == A.ACQUIRE or op == A.TRYLOCK:
            # Shared acquisitions (and releases) of one rwlock commute: they
            # read the lock; a lockdep annotation has no footprint.
            kind = a.footprint_kind
            ev.pre = obj.state()
            if obj.available(index, a.arg):
                self._take(t, obj, a.arg)
                res = True if op == A.TRYLOCK else None
            elif op == A.TRYLOCK:
                res = False
            else:
                raise InternalError(f"task {t.name} stepped on a held lock {obj.name}")
            ev.post = obj.state()
        elif op == A.RELEASE:
            ev.pre = obj.state()
            kind = A.R if self._drop(t, obj, a) else A.W
            ev.post = obj.state()
            if not obj.blocking:
                kind = A.NONE
        elif op == A.SPIN:
            res = obj._value
            kind = A.R
            ev.pre = ev.post = res
        elif op == A.RMW:
            res = obj._value
            ev.pre = res
            obj._value = a.arg(res)
            ev.post = obj._value
            kind = A.W
            if obj.keeps is not None and self.refs is not None:
                self._counted(t, obj, ev)
        elif op == A.WAIT:
            if not obj.available(index, a.arg):
                raise InternalError(f"task {t.name} stepped on a held lock {obj.name}")
            ev.pre = ev.post = obj.state()
            kind = A.R
        elif op == A.ADD:
            ev.pre = obj._value
            obj._value = ev.post = ev.pre + a.arg
            kind = a.footprint_kind
            if not self.counters and kind > A.W:
                kind = A.W
            if a.arg2 is not None:
                self._add_frees(t, ev, kind)
            if obj.keeps is not None and self.refs is not None:
                self._counted(t, obj, ev)
        elif op == A.CMPXCHG:
            res = obj._value
            ev.pre = res
            if res == a.arg:
                obj._value = a.arg2
            ev.post = obj._value
            kind = A.W
            if obj.keeps is not None and self.refs is not None:
                self.refs.check(t, obj)
        elif op == A.PREEMPT_DISABLE:
            t.pc += 1
            if a.arg is None:
                t.explicit += 1
            elif a.arg == "irq":
                t.irqs_off += 1
            else:
                t.bh_off += 1
        elif op == A.PREEMPT_ENABLE:
            self._enable(t, a.arg)
        elif op == A.CHOOSE:
            if choice is None:
                choice = a.arg[0]
            res = choice
            ev.choice = choice
        elif op == A.ALLOC or op == A.FREE:
            if obj.permanent:
                raise ModelError(f"task {t.name}: {a.describe()}: {obj.name} was declared "
                                 f"permanent (never freed)")
            ev.pre = obj.alive
            obj.alive = op == A.ALLOC
            kind = A.W
            uid, pins = a.uids()
            ev.fps = ((uid, A.W, ev.pre, obj.alive), (pins, A.W, None, None))
            # Without the reduction (a weak model, whose race detector skips what an
            # access declares by its uids; or withdrawn) the memory has no uid of its own.
            if obj.mem_uid is not None and self.refs is not None:
                ev.fps += ((obj.mem_uid, A.W, None, None),)
                if op == A.FREE:
                    self.refs.freed(t, obj)
        elif op == A.ACCESS:
            kind = A.W if a.arg else A.R
            if obj.mem_uid is not None and self.refs is not None:
                ev.fps = self._kept_access(t, a, kind)
            elif a.arg2:
                ev.fps = tuple((u, kind, None, None) for u in a.uids())
        elif op == A.PIN:
            obj.pins[index] = obj.pins.get(index, 0) + 1
            kind = A.R
        elif op == A.UNPIN:
            n = obj.pins.get(index, 0)
            if n <= 0:
                raise ModelError(f"task {t.name}: unpin({obj.name}) without a matching pin")
            if n == 1:
                del obj.pins[index]
            else:
                obj.pins[index] = n - 1
            kind = A.R
        # COND_RESCHED, MIGHT_SLEEP, SLEEP, LABEL: no state change here.
        ev.result = res
        ev.kind = kind
        ev.obj = (a.uids()[0] if op == A.PIN or op == A.UNPIN else obj.uid) if kind else None
        if op == A.ACCESS and ev.fps is not None:
            ev.obj = ev.fps[0][0]       # a read under a reference has no footprint on obj.uid
        ev.pc = t.pc
        t.seq += 1
        ev.seq = t.seq
        c = t.cpu
        self.current[c] = index
        t.yielded = (op == A.SLEEP or op == A.COND_RESCHED) and t.pc == 0
        if self.shared_cpu[c]:
            ev.cpu = c
            before = self.owner[c]
            ev.own = before
            if t.irq and t.seq == 1 and before is not None and before != index:
                t.interrupted = before          # given the CPU back when the handler returns
            if t.pc > 0 and op != A.SLEEP:
                self.owner[c] = index
            elif before == index:
                # Preemptible again, or "scheduling while atomic": the kernel
                # reports it (sleep-in-atomic) and schedules anyway, so the CPU
                # is free until the task runs again.
                self.owner[c] = None
            ev.xoc = (before == index) != (self.owner[c] == index)
            ev.oc = ev.xoc or (op == A.TRYLOCK and obj.spinning and t.pc == 0)
        else:
            ev.cpu = -1
            ev.own = None
            ev.oc = ev.xoc = False
        last = self._last
        if last is not None:
            # Still the last execution's steps?  (A step is named by its task and the
            # value it took, from the same state: build() must be deterministic, and
            # that is checked here, not trusted.)
            n = len(self.events)
            p = last[n] if n < len(last) else None
            if p is None or p.task != index or p.choice != ev.choice:
                self._last = None
                if self._replay is not None:
                    self._replay = None
                    self._hooks(False)
            elif p.action is not a and (p.action.op != op or _uid(p.action.obj) != _uid(obj)):
                self._diverged(t, n, p.action, a)
        self.events.append(ev)
        self._stepping = None
        on_event = self._on_event
        if on_event:
            for m in on_event:
                m.on_event(self, ev)
        rec.cont()
        retry = t.retry
        if retry is not None and retry.deferred is not None:
            # A wait checker.retryloop put before the task's action ended: the
            # action is pending again, the task's code has not moved.
            outcome = retry.deferred
            retry.deferred = None
        else:
            outcome = self._resume(t, res)
        if t.spin is not None:
            spinloop.after_step(t, ev, rec.cont_touched)
        if retry is not None:
            retryloop.after_step(t, ev, rec.cont_touched)
        rec.finish(ev)
        if self.race_deferred is None:
            self._races.step(self, ev)
        else:
            self.race_deferred.append(ev)
        on_step_end = self._on_step_end
        if on_step_end:
            for m in on_step_end:
                m.on_step_end(self, ev)
        self._after_resume(t, outcome)
        if t.finished and self.owner[c] == index:
            # A task that ends atomic (a lock-balance bug) stops owning its CPU; a
            # handler returns it to the task it interrupted.
            back = t.interrupted
            self.owner[c] = back if back is not None and not self.tasks[back].finished else None
            ev.xoc = ev.own == index
            ev.oc = ev.oc or ev.xoc
        return ev

    def _weak_step(self, index: int, a, ev, choice):
        """A Var action or a fence under a weak memory model: ``(result, footprint kind)``."""
        mm = self.mm
        op = a.op
        obj = a.obj
        if op == A.FENCE:
            mm.fence(index, a.arg)
            return None, A.NONE
        if choice is not None:
            ev.choice = choice
        if op == A.READ or op == A.SPIN:
            if choice is None and op == A.SPIN:
                choice = mm.load_choices(index, a)[0]
            res = mm.load(index, a, choice)
            ev.pre = ev.post = res
            return res, A.R
        if op == A.WRITE:
            ev.pre = obj._value
            mm.store(index, a, a.arg, choice)
            ev.post = obj._value
            return None, A.W
        # The RMW's own old and new values (it may sit anywhere in mo): an ADD with
        # frees= frees when its own value reaches 0.
        res, ev.post = mm.rmw(index, a, _rmw_fn(a), choice)
        ev.pre = res
        if op == A.ADD:
            res = None
        kind = A.W
        if op == A.ADD:
            kind = a.footprint_kind
            if not self.counters and kind > A.W:
                kind = A.W
            elif kind > A.W and a.order != memory_model.RELAXED:
                # Under a weak model an ordered RMW synchronises with the store it
                # reads: two such additions in one order or the other are two traces
                # (the race detector's hb differs), so they no longer commute.
                kind = A.W
            if a.arg2 is not None:
                self._add_frees(self.tasks[index], ev, kind)
        return res, kind

    def _enable(self, t: TaskState, what) -> None:
        """``preempt_enable``, ``local_irq_enable`` or ``local_bh_enable``: each must
        match a disable of its own kind (a handler's own context is not one)."""
        if what is None:
            if t.explicit <= 0:
                raise ModelError(f"task {t.name}: preempt_enable() without a matching preempt_disable()")
            t.explicit -= 1
        else:
            floor = 1 if t.irq == ("hard" if what == "irq" else "soft") else 0
            depth = t.irqs_off if what == "irq" else t.bh_off
            if depth <= floor:
                raise ModelError(f"task {t.name}: local_{what}_enable() without a matching "
                                 f"local_{what}_disable()")
            if what == "irq":
                t.irqs_off -= 1
            else:
                t.bh_off -= 1
        t.pc -= 1

    def _diverged(self, t: TaskState, n: int, then, now) -> None:
        """Step ``n`` follows the same steps as in the last execution but does another thing."""
        raise ModelError(
            f"the program is not deterministic: after the same {n} step(s) as the last execution, "
            f"task {t.name} does {now.describe()} where it did {then.describe()}; state kept outside "
            f"the shared objects the engine sees (a module global, a default argument, a class "
            f"attribute, a cache) carries over from one execution to the next")

    def _counted(self, t: TaskState, var, ev: Event) -> None:
        """A step changed a count that keeps an object alive: the task's balance moves
        by what its step added (checker.refs)."""
        d = ev.post - ev.pre if isinstance(ev.post, int) and isinstance(ev.pre, int) else 0
        if d:
            self.refs.add(t, var, d)
        else:
            self.refs.check(t, var)

    def _kept_access(self, t: TaskState, a, kind: int) -> tuple:
        """The footprint of an access to an object a count keeps alive: its memory
        (``mem_uid``) and, unless it is a read by a task holding a reference it took,
        its lifetime (``uid``), which every put touches (checker.refs)."""
        obj = a.obj
        mem = (obj.mem_uid, kind, None, None)
        if kind == A.R and self.refs.holds(t, obj.kept_by):
            fps = (mem,)
        else:
            fps = ((obj.uid, kind, None, None), mem)
        if a.arg2:
            fps += tuple((x.uid, kind, None, None) for x in a.arg2)
        return fps

    def _add_frees(self, t: TaskState, ev: Event, kind: int) -> None:
        """An ADD that keeps an object alive (``put_page``): at 0 it frees it.

        The object is part of the step's footprint, with the same commuting
        kind: an access to it conflicts, another put does not (the last one
        frees it whichever it is).
        """
        obj, on_free = ev.action.arg2
        var = ev.action.obj
        alive = obj.alive
        frees = ev.post == 0 and ev.pre != 0
        touched = None          # what the free check read, by base (sc only)
        if on_free is not None:
            # The check runs on every put, so that what it reads is in every
            # put's footprint (a footprint must not depend on whether this put
            # was the last); its verdict counts only for the put that frees.
            self._active = t
            # The check's reads are plain accesses the race detector judges; only the
            # put that frees makes them (free_pages_check).  On sc every put's are in
            # its footprint, as they always were; when it does not free they are
            # recorded soft (checker.recorder): judged by the search's order only.
            old = set_recorder(self._rec if frees or self.mm is None else None)
            if self.mm is None:
                self._rec.collect = touched = {}
                self._rec.collect_only = not frees
            try:
                on_free()
            except (AssertionError, Bug) as exc:
                if frees:
                    self._report_bug(t, exc)
            finally:
                set_recorder(old)
                self._active = None
                self._rec.collect = None
                self._rec.collect_only = False
        if frees:
            obj.alive = False
        elif ev.post < 0 and ev.pre >= 0:
            self._report_bug(t, f"{var.name} underflow (put of a freed {obj.name})")
        var_uid, obj_uid, pins = ev.action.uids()
        ev.fps = ((var_uid, kind, ev.pre, ev.post), (obj_uid, kind, alive, obj.alive),
                  (pins, kind, None, None))
        if touched:
            # What the check read is in every put's footprint (it runs on every put, and
            # its reads stand at the action): a declared write of it by another task is
            # ordered against the put, whichever put frees.  (Only the freeing put's, a
            # footprint that depends on the counter's value, lost executions: a put asleep
            # while it would not free is not woken by the write its free conflicts with.)
            own = (var_uid, obj_uid, pins)
            ev.fps += tuple((b, k, None, None) for b, k in touched.items() if b not in own)

    def would_preempt(self, index: int) -> bool:
        """Whether stepping task ``index`` now would preempt its CPU's current task."""
        cur = self.current[self.tasks[index].cpu]
        if cur is None or cur == index:
            return False
        u = self.tasks[cur]
        return not u.finished and not u.yielded and not self.waits_sleeping(u)

    def waits_sleeping(self, u: TaskState) -> bool:
        """Whether task ``u`` waits for a sleeping lock (switching away from it is no preemption)."""
        a = u.pending
        if a is None or (a.op != A.ACQUIRE and a.op != A.WAIT):
            return False
        return not A.spins(a) and not a.obj.available(u.index, a.arg)

    def _take(self, t: TaskState, lk, shared: bool):
        i = t.index
        if lk.blocking:
            if shared:
                lk._readers[i] = lk._readers.get(i, 0) + 1
            else:
                lk._writer = i
        elif shared:
            lk._readers[i] = lk._readers.get(i, 0) + 1
        else:
            lk.exclusive[i] = lk.exclusive.get(i, 0) + 1
            if lk._writer is None:
                lk._writer = i
        t.held.append((lk, shared))
        if lk.spinning:
            t.pc += 1

    def _drop(self, t: TaskState, lk, a) -> bool:
        """Release ``t``'s latest hold of ``lk``; whether it was a shared hold of a
        task not also holding the write side (such a release commutes with
        other shared ones, see :meth:`step`)."""
        i = t.index
        held = t.held
        for k in range(len(held) - 1, -1, -1):
            if held[k][0] is lk:
                shared = held[k][1]
                del held[k]
                break
        else:
            # lockdep's "bad unlock balance detected": a finding about the
            # protocol (a mutation can unlock a zspage it never locked), not a
            # modelling error.  The lock is left as it is.
            self.report("lock-balance", f"bad unlock balance: task {t.name} releases {lk.kind} "
                        f"{lk.name}, which it does not hold ({a.describe()})", task=i,
                        steps=(len(self.events),))
            return False
        if shared:
            n = lk._readers[i]
            if n == 1:
                del lk._readers[i]
            else:
                lk._readers[i] = n - 1
        elif lk.blocking:
            lk._writer = None
        else:
            n = lk.exclusive[i]
            if n == 1:
                del lk.exclusive[i]
            else:
                lk.exclusive[i] = n - 1
            if lk._writer == i and i not in lk.exclusive:
                lk._writer = next(iter(lk.exclusive), None)
        if lk.spinning:
            t.pc -= 1
        return shared and lk._writer != i

    def _resume(self, t: TaskState, value, first: bool = False):
        """Run ``t``'s code up to its next action, recording what it touches.

        Returns the action, ``StopIteration`` if the task ended, or the
        ``Bug``/``AssertionError`` it raised; :meth:`_after_resume` acts on it
        once the step's monitors have seen the step (a BUG the continuation
        hits is reported after what the step itself broke).
        """
        self._active = t
        tls = _tls          # checker.memory.set_recorder, without two calls per step
        old = tls.rec
        tls.rec = self._rec
        try:
            nxt = next(t.gen) if first else t.gen.send(value)
        except StopIteration as exc:
            return exc
        except (AssertionError, Bug) as exc:
            return exc
        except ZsmcError:
            raise
        except Exception as exc:
            where = t.pending.describe() if t.pending is not None else "its start"
            raise ModelError(f"task {t.name} raised {type(exc).__name__}: {exc} (after {where})") from exc
        except BaseException:
            self.culprit = t        # SystemExit and the like: explore names the task
            raise
        finally:
            tls.rec = old
            self._active = None
        if type(nxt) is not A.Action:
            raise ModelError(
                f"task {t.name} yielded {nxt!r}, which is not an action; "
                "yield x.read(), lk.acquire(), preempt_disable(), choose([...]), ...")
        return nxt

    def _after_resume(self, t: TaskState, outcome) -> None:
        if type(outcome) is A.Action:
            if outcome.op == A.READ:
                outcome = spinloop.on_pending(t, outcome)
            elif t.spin is not None and outcome.op not in spinloop._QUIET:
                t.spin = None
            if t.retry is not None and outcome.op != A.SPIN:
                outcome = retryloop.on_pending(t, outcome)
            if outcome.op == A.SPIN and outcome.obj.counter and self.counters:
                from .reductions import CounterWaited
                raise CounterWaited(f"task {t.name} waits on {outcome.obj.name}, a counter Var "
                                    f"(its additions are explored as plain writes)")
            t.pending = outcome
            on_pending = self._on_pending
            if on_pending:
                for m in on_pending:
                    m.on_pending(self, t, outcome)
            return
        t.finished = True
        t.pending = None
        if isinstance(outcome, StopIteration):
            on_finish = self.monitors.on_task_finish if self.monitors is not None else ()
            for m in on_finish:
                m.on_task_finish(self, t)
        else:
            self._report_bug(t, outcome)

    # -- reporting --------------------------------------------------------------
    def _report_bug(self, t: TaskState, exc) -> None:
        """A BUG() in task ``t``: ``exc`` is the exception the model raised, or a message."""
        msg = exc if isinstance(exc, str) else (str(exc) or type(exc).__name__)
        self.report("bug", f"task {t.name} hit BUG: {msg}", task=t.index)

    def report(self, prop: str, message: str, task=None, steps=(), runs=()):
        """Record a violation of property ``prop`` at the current step.

        ``runs``: schedules of earlier executions the violation needs (a
        monitor with state across executions), replayed before this one."""
        # During an action (before its event is appended) the violation is that step's:
        # its trace must hold the step, or it does not replay (red team round 5: a put's
        # "Bad page state" was recorded one step early, and the trace never reproduced).
        step = self._stepping if self._stepping is not None else len(self.events) - 1
        self.violations.append((prop, message, step, task, tuple(steps), list(runs)))

    def blocked_description(self):
        """For a deadlock: each unfinished task, its pending action and what it waits for."""
        lines = []
        for t in self.tasks:
            if t.finished:
                continue
            a = t.pending
            why = ""
            c = t.cpu
            o = self.owner[c]
            if self.shared_cpu[c] and o is not None and o != t.index:
                holder = self.tasks[o]
                why = (f"CPU {c} is held by atomic task {holder.name}" if holder.irq is None else
                       f"CPU {c} is running {holder.name}, the {holder.irq} interrupt that "
                       f"interrupted it")
            elif a.op == A.ACQUIRE or a.op == A.WAIT:
                lk = a.obj
                holders = []
                if lk._writer is not None:
                    holders.append(self.tasks[lk._writer].name)
                holders.extend(self.tasks[r].name + " (read)" for r in lk._readers)
                how = "spins" if A.spins(a) else "sleeps"
                why = f"{how} on {lk.kind} {lk.name} held by {', '.join(holders) or '?'}"
            elif a.op == A.SPIN:
                why = f"spins on {a.obj.name} = {a.obj._value!r}"
                if t.pc:
                    why += f" with preemption disabled on CPU {c}"
            lines.append((t.index, t.name, a.describe(), why))
        return lines
