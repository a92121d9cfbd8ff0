"""zsmalloc as a Hypothesis state machine: operations are rules, the scheduler's choices too.

:class:`ZsmallocMachine` is a ``hypothesis.stateful.RuleBasedStateMachine``.
Its rules start allocator operations on idle tasks, as a client, the
shrinker, the migration core or the free work would (``zs_malloc`` puts a
handle into the :attr:`~ZsmallocMachine.handles` bundle once it is done;
``zs_free``, ``read`` and ``write`` take one from it, and ``read``/``write``
put it back when done; ``zs_compact``, ``migrate`` and ``free_work``), and
the scheduling rules make the scheduler's decisions: which started operation
moves next and how far (:meth:`~ZsmallocMachine.step`,
:meth:`~ZsmallocMachine.nudge`, :meth:`~ZsmallocMachine.approach`,
:meth:`~ZsmallocMachine.run`).  Its
invariants are the properties: every property's monitor runs on every step
(the engine's own exploration loop runs underneath, see
:mod:`checker.stepper`), and at a *quiescent* point, when no operation is in
flight, the end-of-execution checks run too (data integrity, invariant I7).
When the example ends, the operations in flight run to completion and the
end of the execution is checked.

A violation fails the example; Hypothesis shrinks it with its stateful
shrinker (fewer rules, smaller arguments: fewer operations, shorter steps),
and the final, smallest failure is written as a trace file that replays
like every other (``zsmc replay``; the program is
:mod:`model.stateful_program`'s).  In any pytest suite::

    from model.stateful import ZsmallocMachine

    class MyPatchMachine(ZsmallocMachine):
        variant = "mypatch.py:MyZsmalloc"     # or the class itself, or "v5"

    TestMyPatch = MyPatchMachine.TestCase

Subclasses add rules (``@rule``, using :attr:`ZsmallocMachine.handles`,
:data:`TASK` and :meth:`~ZsmallocMachine.begin`) and invariants
(``@invariant``, reading :attr:`~ZsmallocMachine.pool` when
:attr:`~ZsmallocMachine.quiescent`).  ``zsmc check --scheduler hypothesis``
runs it through :func:`model.stateful_search.search`.
"""

from __future__ import annotations

import functools
import os
import sys

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from checker import UsageError
from checker.stepper import Stepper

from . import stateful_program as sp
from .stateful_failure import TestCaseProperty, ZsmcViolation, failure_class, is_final_run, shrinking_limit  # noqa: F401
from .stateful_policies import Approach, Moves, Race

MAX_STEPS = 20_000          # per execution; a livelocked run must not hang the example
MOVES = st.integers(1, 8)   # moves per step(): shrinks towards one
STEPS = st.integers(1, 4)   # single steps per nudge()
PAGES_AHEAD = st.integers(1, 3)     # approach(): the n-th page an operation is about to touch


@functools.lru_cache(maxsize=1024)
def _sampled(options: tuple):
    # One strategy per list of options: building one per draw costs more than the draw.
    return st.sampled_from(options)


class _PageIndex(int):
    """A page chosen by its index among the candidates when the migration starts."""


TASK = st.runner().flatmap(lambda machine: _sampled(tuple(machine.names) or ("-",)))
"""Strategy: a task's name (a rule's ``on=``, a scheduling rule's ``task=``).  Names,
not positions in a list of the moment: a rule keeps its meaning when the shrinker
deletes rules before it."""
API = st.runner().flatmap(lambda machine: _sampled(machine.apis()))
ORDER = st.runner().flatmap(lambda machine: st.permutations(machine.names or ["-"]))
# Change points, in moves: mostly early (the windows of the catalogue's bugs open within
# the first dozen moves of an operation), sometimes anywhere in a longer race.
SWITCHES = st.lists(st.integers(1, 12) | st.integers(1, 48), max_size=2)
# What a change point counts: moves, or releases (a lock release or preempt_enable: a
# window opens right after one, and an operation makes few of them, so that the n-th
# release of a long operation is as likely a change point as the n-th move of a short one).
UNITS = st.sampled_from(("moves", "releases"))
# An index into ZsmallocMachine.page_candidates(), most recently touched first.
PAGE = st.sampled_from((0, 0, 1)) | st.integers(0, 31)
POOL = st.runner().flatmap(lambda machine: machine.pools())


class ZsmallocMachine(RuleBasedStateMachine):
    """The zsmalloc model as a state machine (see the module docstring).

    Class attributes pick what is checked: ``variant`` (a built-in version
    name, ``FILE.py:Class``, ``package.module:Class`` or a version class),
    ``mutation`` (a seeded bug of the catalogue, on its base version),
    ``scenario`` (its initial pool: ``large`` by default), ``cpus`` (None:
    the scenario's), ``workers`` (tasks per CPU), ``properties`` (None:
    every property that applies; ``[]``: only the model's BUG_ONs) and
    ``trace_dir`` (where the final failure is written: ``""`` for
    ``$ZSMC_TRACE_DIR``, else the pytest plugin's ``zsmc_trace_dir`` in a
    pytest run, else ``zsmc-traces``; None: nowhere).
    Override :meth:`pools` to draw the pool.
    """

    variant = "upstream"
    mutation = None
    scenario = "large"
    cpus = None
    workers = 2
    properties = None
    trace_dir = ""
    shrink_seconds = 30.0      # how long TestCase lets Hypothesis shrink a failure (None: 5 min)
    TestCase = TestCaseProperty()

    handles = Bundle("handles")

    def __init__(self):
        super().__init__()
        self.stepper = None
        self.caller = None
        self.params = None
        self.names = []
        self.queue = {}         # task index -> [[operation, argument], ...] not started yet
        self.current = {}       # task index -> (verb, key) of its operation started and unfinished
        self._opening = {}      # task index -> answers given so far to its next operation's start
        self.last = None        # the task that took the last step
        self.script = {}        # task name -> [[operation, argument], ...] it was given
        self._opening = {}      # task index -> the answers given so far to its operation's start
        self._failed = False
        self._version = 0       # bumped by every change the rules' preconditions read
        self._idle = self._runnable = (None, ())

    # -- set-up -------------------------------------------------------------------------
    @classmethod
    def variant_class(cls) -> type:
        """The version class checked (``variant`` plus ``mutation``)."""
        from .registry import load_variant, variant_for
        v = cls.variant
        if cls.mutation is not None:
            if not isinstance(v, str):
                raise UsageError("a mutation applies to a built-in version name, not a class")
            return variant_for(v, cls.mutation)
        return v if isinstance(v, type) else load_variant(v)

    def pools(self):
        """Strategy for ``(scenario name, cpus)``: by default the class attributes'."""
        return st.just((self.scenario, self.cpus))

    @initialize(target=handles, pool=POOL)
    def start(self, pool):
        """Build the pool of scenario ``pool[0]`` on ``pool[1]`` CPUs (None: its own) and the
        tasks; the pool's handles go into the bundle."""
        cls = self.variant_class()
        build, self.params = sp.make_build(cls, pool[0], pool[1], self.workers)
        self.names = [n for n, _ in sp.task_names(self.params["cpus"], self.params["workers"])]
        self._apis = cls.APIS
        self._end_checks = self.properties is None or bool(
            {"data-integrity", "pool-consistency"} & set(self.properties))
        self.stepper = Stepper(build, properties=self.properties, max_steps=MAX_STEPS)
        self.caller = build.caller
        return multiple(*sorted(self.caller.handles))

    # -- what the rules see --------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.stepper is not None and not self.stepper.ended

    @property
    def pool(self):
        """The zsmalloc pool of the execution (the program's context)."""
        return self.stepper.world.program.context if self.stepper and self.stepper.world else None

    def _in_flight(self, i: int) -> bool:
        return bool(self.queue.get(i)) or not self.caller.idle.get(self.names[i], True)

    @property
    def quiescent(self) -> bool:
        """The execution runs and no operation is started and unfinished."""
        return self.running and not any(self._in_flight(i) for i in range(len(self.names)))

    def idle_tasks(self) -> tuple:
        """Names of the tasks with no operation started or queued."""
        if self._idle[0] != self._version:
            idle = () if not self.running else tuple(
                n for i, n in enumerate(self.names) if not self._in_flight(i))
            self._idle = (self._version, idle)
        return self._idle[1]

    def runnable_tasks(self) -> tuple:
        """Names of the tasks whose operation can take a step now."""
        if self._runnable[0] != self._version:
            out = () if not self.running else tuple(
                self.names[i] for i in self.stepper.enabled if self._in_flight(i))
            self._runnable = (self._version, out)
        return self._runnable[1]

    def _queued(self) -> int:
        return sum(len(q) for q in self.queue.values())

    def _open_slot(self) -> bool:
        # Operations wait in the tasks' queues; a bounded number, so that an example
        # whose scheduling rules are all switched off (swarm testing) stays short.
        return self.running and self._queued() < len(self.names)

    def apis(self) -> tuple:
        """The object-access APIs of the version (``obj``, ``map``)."""
        return self._apis

    # -- starting operations ---------------------------------------------------------------
    def begin(self, on: str, op: str, arg=None) -> None:
        """Queue operation ``op`` (a name of :func:`stateful_program.menu`) with its handle
        key or page ``arg`` on task ``on``: it starts when a scheduling rule picks the task
        after its operations before."""
        if not self.running:
            return
        i = self.names.index(on)
        self.queue.setdefault(i, []).append([op, arg])
        self._version += 1

    @precondition(lambda self: self._open_slot())
    @rule(on=TASK, api=API)
    def zs_malloc(self, on, api):
        """Allocate an object and store into it through object API ``api``."""
        self.begin(on, f"zs_malloc:{api}")

    @precondition(lambda self: self._open_slot())
    @rule(handle=consumes(handles), on=TASK)
    def zs_free(self, handle, on):
        self.begin(on, "zs_free", handle)

    @precondition(lambda self: self._open_slot())
    @rule(handle=consumes(handles), on=TASK, api=API)
    def read(self, handle, on, api):
        self.begin(on, f"read:{api}", handle)

    @precondition(lambda self: self._open_slot())
    @rule(handle=consumes(handles), on=TASK, api=API)
    def write(self, handle, on, api):
        self.begin(on, f"write:{api}", handle)

    @precondition(lambda self: self._open_slot())
    @rule(on=TASK)
    def zs_compact(self, on):
        self.begin(on, "zs_compact")

    @precondition(lambda self: self._open_slot() and self.caller.pages)
    @rule(on=TASK, page=PAGE)
    def migrate(self, on, page):
        """Migrate a page: ``page`` indexes :meth:`page_candidates` when the migration starts."""
        self.begin(on, "migrate", _PageIndex(page))

    @precondition(lambda self: self._open_slot() and not self._free_work_on())
    @rule(on=TASK)
    def free_work(self, on):
        """The free work item; never two at once (a work item does not run concurrently
        with itself)."""
        self.begin(on, "free_work")

    def _free_work_on(self) -> bool:
        return (any(verb == "free_work" for verb, _ in self.current.values())
                or any(op == "free_work" for q in self.queue.values() for op, _ in q))

    def page_candidates(self) -> list:
        """The pages ``migrate`` may pick, where the races are first: those the paused
        operations are about to touch (the last one to move first), then those the latest
        steps touched (a smaller index is simpler, so shrinking prefers them too)."""
        names = self.caller.pages
        seen = {}

        def note(obj):
            name = getattr(obj, "name", None)
            if name is not None:
                page = name.removesuffix(".zpdesc").removesuffix(".lock")
                if page in names and page not in seen:
                    seen[page] = len(seen)

        world = self.stepper.world
        paused = [i for i in range(len(self.names)) if self._in_flight(i) and i not in self._opening]
        if self.last in paused:
            paused.remove(self.last)
            paused.insert(0, self.last)
        for i in paused:
            pending = world.tasks[i].pending
            if pending is not None:
                note(pending.obj)
                # and the page after it: a spanning object's second half comes next
                page = self.caller.pages.get(getattr(pending.obj, "name", "").removesuffix(".zpdesc"))
                if page is not None and page.next is not None:
                    note(page.next)
        if self._free_work_on():
            # The free work locks the pages of the empty zspages: a migration holding one
            # of them is where lock_zspage and free_zspage race with the migration core.
            for page in self._empty_zspage_pages():
                note(page)
        events = world.events
        for k in range(len(events) - 1, max(len(events) - 400, 0) - 1, -1):
            note(events[k].action.obj)
        return sorted(names, key=lambda n: (seen.get(n, len(seen)), n))

    def _empty_zspage_pages(self) -> list:
        """The candidate pages of the zspages with no object in use, in chain order."""
        out = []
        for page in self.caller.pages.values():
            z = page.zspage
            if z is not None and z.inuse == 0 and z.first is not None:
                out += [p for p in z.pages() if p not in out]
        return out

    # -- the scheduler's decisions -------------------------------------------------------------
    @precondition(lambda self: self.runnable_tasks() or not self.running)
    @rule(target=handles, task=TASK, moves=MOVES)
    def step(self, task, moves):
        """``task`` makes up to ``moves`` moves (fewer if its operation ends or it cannot
        go on); a handle its operation is done with goes (back) into the bundle."""
        return self._advance(task, moves, 0)

    @precondition(lambda self: self.runnable_tasks() or not self.running)
    @rule(target=handles, task=TASK, steps=STEPS)
    def nudge(self, task, steps):
        """``task`` takes up to ``steps`` single steps: it can stop inside a run of memory
        steps (between two writes, say)."""
        return self._advance(task, 0, steps)

    @precondition(lambda self: self.runnable_tasks() or not self.running)
    @rule(target=handles, task=TASK, nth=PAGES_AHEAD)
    def approach(self, task, nth):
        """``task`` runs until it is about to access the ``nth`` page (counted from this
        rule) it has not accessed before: the window where a migration of that page races
        with it (the second half of a spanning object, the next page of a chain walk).
        The migration candidates put that page first."""
        return self._advance(task, 0, 0, nth)

    @precondition(lambda self: self.runnable_tasks() or not self.running)
    @rule(target=handles, task=TASK)
    def run(self, task):
        """``task`` runs until its operation is over or it cannot go on."""
        return self._advance(task, MAX_STEPS, 0)

    @precondition(lambda self: self.runnable_tasks() or not self.running)
    @rule(target=handles, order=ORDER, switches=SWITCHES, unit=UNITS)
    def race(self, order, switches, unit="moves"):
        """Every operation in flight runs to its end, the tasks by priority (``order``:
        first is highest) as PCT schedules them: at each of the ``switches`` moves (or
        releases, ``unit``) the task that has just moved drops below every other
        (Burckhardt et al., ASPLOS 2010)."""
        if not self.running:
            return multiple()
        self._version += 1
        before = dict(self.current)
        policy = Race(self, [self.names.index(n) for n in order if n in self.names], sorted(switches),
                       unit == "releases")
        self.stepper.run(policy)
        done = []
        for i in before:
            done += self._finished(i)
        for i in list(self.current):
            if i not in before:
                done += self._finished(i)
        self._settle()
        return multiple(*done)

    def _advance(self, task: str, moves: int, steps: int, pages: int = 0):
        """Move ``task``, or if it cannot move now, the next task (in name order) that can
        (``pages``: until it is about to access the ``pages``-th new page, :meth:`approach`)."""
        runnable = self.runnable_tasks()
        if not self.running or not runnable:
            return multiple()
        k = self.names.index(task)
        order = self.names[k:] + self.names[:k]
        i = self.names.index(next(n for n in order if n in runnable))
        self._version += 1
        self.stepper.run(Approach(self, i, pages) if pages else Moves(self, i, moves, steps))
        self.last = i
        done = self._finished(i)
        self._settle()
        return multiple(*done)

    def _opening_step(self, i: int):
        """Task ``i``'s next step if it is starting an operation (the answer to its
        ``choose``), else None."""
        given = self._opening.get(i)
        if given is None:
            if not self.queue.get(i) or not self.caller.idle.get(self.names[i], True):
                return None
            given = self._opening[i] = []
        op, arg = self.queue[i][0]
        if not given:
            answer = op
        else:
            answer = arg
            if isinstance(arg, _PageIndex):     # the candidates may have changed since the rule
                pages = self.page_candidates()
                answer = pages[arg % len(pages)]
        given.append(answer)
        if arg is None or len(given) == 2:      # started: note it in the script
            self.queue[i].pop(0)
            del self._opening[i]
            self.current[i] = (op.partition(":")[0], answer if arg is not None else None)
            self.script.setdefault(self.names[i], []).append([op, given[1] if len(given) == 2 else None])
        return (i, answer)

    def _choice(self, i: int):
        """Task ``i``'s next step."""
        return self._opening_step(i) or (i, None)

    def _finished(self, i: int) -> list:
        """Keys to return to the bundle if task ``i``'s operation is over."""
        if i not in self.current or not self.caller.idle.get(self.names[i], True):
            return []
        verb, key = self.current.pop(i)
        if verb == "zs_malloc":
            return [self.caller.made[self.names[i]]]
        return [key] if verb in ("read", "write") else []

    def _settle(self) -> None:
        """End the execution where it cannot go on: operations in flight and none can move
        (a deadlock, reported by the engine once the idle tasks have exited)."""
        if self.running:
            enabled = self.stepper.enabled
            busy = [i for i in range(len(self.names)) if self._in_flight(i)]
            if busy and not any(i in enabled for i in busy):
                self._exit_idle()

    def _exit_idle(self) -> None:
        if self.running:
            self._version += 1
            self.stepper.run(self._exit_policy)

    def _exit_policy(self, world, enabled):
        for i in enabled:
            if not self._in_flight(i):
                self.script.setdefault(self.names[i], []).append([sp.EXIT, None])
                return (i, sp.EXIT)
        return None

    @property
    def program(self) -> dict:
        """The program of the execution so far, for a trace: the scenario's and every task's
        script (the operations it was given), ``{"loader": ..., "params": ...}``."""
        return {"loader": sp.LOADER, "params": dict(self.params, script={
            n: [list(s) for s in self.script[n]] for n in self.names if n in self.script})}

    # -- invariants --------------------------------------------------------------------------
    # The monitors run on every step, in the engine; this invariant reports what they
    # found (its precondition keeps it out of Hypothesis's printout until then).
    @precondition(lambda self: self.stepper is not None and self.stepper.violations)
    @invariant()
    def properties_hold(self):
        """Every property's monitor, at every step so far."""
        self._fail()

    @precondition(lambda self: self.quiescent)
    @invariant()
    def quiescent_checks(self):
        """When nothing is in flight: what the properties check at the end of an execution
        (every object holds the value last stored, I7).  A problem ends the execution
        here, so that the properties' own end checks report it in a trace that replays."""
        if not self._end_checks:
            return
        pool = self.pool
        checks = [getattr(pool, n, None) for n in ("integrity_problems", "end_problems")]
        if any(check() for check in checks if check is not None):
            self._exit_idle()
            self._fail()

    def _fail(self) -> None:
        if not self.stepper.violations:
            return
        self._failed = True
        v = self.stepper.violations[0]
        path = text = None
        if self.trace_dir is not None and is_final_run():
            from checker.render import render_steps
            trace, path = self.write_trace(v)
            text = render_steps(trace)
        raise failure_class(v.property)(v, self.program["params"], path, text)

    def write_trace(self, violation, out_dir=None) -> tuple:
        """Save ``violation``'s trace under ``out_dir`` (default ``trace_dir``), without the
        operations it does not need (:func:`model.stateful_search.reduce_failure`):
        ``(trace, path)``."""
        from checker.trace import make_trace, save_trace

        from .stateful_search import reduce_failure
        violation, params = reduce_failure(violation, self.program["params"], time_limit=5.0)
        trace = make_trace(violation, {"loader": sp.LOADER, "params": params},
                           meta={"scheduler": "hypothesis", "machine": type(self).__qualname__})
        plugin = sys.modules.get("pytest_zsmc")
        out_dir = (out_dir or self.trace_dir or os.environ.get("ZSMC_TRACE_DIR")
                   or (plugin.active_trace_dir() if plugin else None) or "zsmc-traces")
        return trace, save_trace(trace, out_dir)

    # -- the end of an example ---------------------------------------------------------------
    def teardown(self):
        """Run the operations in flight to completion, let every task exit, check the end."""
        if self.stepper is None:
            return
        try:
            if not self._failed and self.running:
                self._version += 1
                self.stepper.run(self._drain_policy)
                self._fail()
        finally:
            self.stepper.close()

    def _drain_policy(self, world, enabled):
        """Operations in flight and queued to completion (the last task to move first,
        else in task order), then every task exits."""
        busy = [i for i in enabled if self._in_flight(i)]
        if busy:
            i = self.last if self.last in busy else busy[0]
            self.last = i
            if i in self.current and self.caller.idle.get(self.names[i], True):
                self.current.pop(i)
            return self._choice(i)
        return self._exit_policy(world, enabled)
