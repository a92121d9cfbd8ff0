"""The exploration loop: run executions, let a scheduler pick each step, check properties.

One loop serves every scheduler (shuttle's design): the scheduler decides
which task moves next and when the space is exhausted; the loop builds a
fresh program for every execution, steps the World (through the reduction
the scheduler asked for, :mod:`checker.reductions`), feeds the monitors,
and enforces the budgets.  An exhausted budget makes the result incomplete,
never verified.
"""

from __future__ import annotations

import time

from . import config, memory, memory_model, objects
from .budget import (CHECK_EVERY, Expired, Limits, SearchInterrupted, Watchdog, code_location,
                     interrupt_pending, signal_of)
from .coverage import take_built
from .errors import ModelError, UsageError, ZsmcError
from .monitor import select
from .program import Program
from .races import RaceDetector
from .result import Result, Step, Violation
from .mixed import ProtectionRefined
from .mixed_warmup import prelearn
from .reductions import Declarations, GuardBroken, wrap
from .schedulers import adapt, make_scheduler
from .world import World


def explore(build, scheduler="dpor", properties=None, stop_on_violation=True,
            preemption_bound=None, max_executions=None, time_limit=None, seed=0,
            on_progress=None, progress_every=1.0, max_steps=None, stop=None,
            declarations=None) -> Result:
    """Explore the executions of the program ``build()`` returns.

    ``build`` is called once per execution and must return a fresh
    :class:`~checker.program.Program` whose behaviour depends only on the
    schedule (no hidden randomness).  ``scheduler`` is a name (``"dpor"``,
    ``"dfs"``, ``"random"``, ``"pct"``, ``"replay"``) or a Scheduler instance.
    ``properties``: registry names or Monitor instances; None means every
    property that applies to the program.  ``preemption_bound`` limits the
    preemptions per execution; ``max_executions`` and ``time_limit`` (seconds)
    are budgets, checked inside an execution too (:mod:`checker.budget`).
    ``max_steps`` caps the steps of one execution (a longer one is a
    ModelError: a task that never ends); ``stop`` (an Event) ends the search,
    incomplete, when set.  ``on_progress(result)`` is called about every
    ``progress_every`` seconds.  Ctrl-C raises
    :class:`~checker.budget.SearchInterrupted` carrying the partial result.
    ``declarations``: the :class:`~checker.reductions.Declarations` to trust
    and withdraw from (a stolen subtree's search starts from its giver's).
    """
    if not isinstance(scheduler, str):
        scheduler = adapt(scheduler) or scheduler       # not a Scheduler: _explore says so
    args = (build, scheduler, properties, stop_on_violation, preemption_bound, max_executions,
            time_limit, seed, on_progress, progress_every, max_steps, stop)
    trusted = Declarations() if declarations is None else declarations
    began = time.perf_counter()
    notes = []
    # This exploration numbers its own objects (checker.objects.making); a caller's
    # numbering (an exploration nested in a build function) is restored after.
    with objects.making():
        if declarations is None:
            warmed = prelearn(build, trusted, scheduler, seed=seed, time_limit=time_limit)
            if warmed and time_limit is not None:
                args = args[:6] + (max(time_limit - (time.perf_counter() - began), 1e-3),) + args[7:]
        while True:
            try:
                result = _explore(*args, trusted)
                if not trusted.protection.stale:
                    break
                raise ProtectionRefined("a learned lock discipline was weakened")
            except (_PlainSearchNeeded, memory_model.GlobalFence) as exc:
                if not isinstance(scheduler, str):
                    raise UsageError(f"{exc}: explore it with scheduler='dfs' or a sampling "
                                     f"scheduler") from None
                args = (build, "dfs") + args[2:]
                notes.append(f"{exc}: explored by dfs, without reduction")
            except GuardBroken as exc:
                # A reduction assumed a declaration the program broke (a guard not
                # held, a counter waited on): explore again without it.
                note = trusted.withdraw(exc)
                if note is not None:
                    notes.append(note)
                elif time_limit is not None:
                    # A learned protection was weakened: the same search again,
                    # within what is left of the one time budget.
                    left = time_limit - (time.perf_counter() - began)
                    args = args[:6] + (max(left, 1e-3),) + args[7:]
                if not isinstance(scheduler, str):
                    try:
                        scheduler.reset()
                    except NotImplementedError:
                        raise ModelError(f"{exc}; the scheduler cannot start again without the "
                                         f"reduction") from exc
    if trusted.protection.restarts:
        if result.reason and result.reason.startswith("time limit of "):
            result.reason = f"time limit of {time_limit}s reached"     # not what was left of it
        notes.append(f"mixed sections: searched again {trusted.protection.restarts} time(s) while "
                     f"learning the locks the other CPUs' tasks hold")
    if notes:
        result.note = "; ".join(notes)
    return result


# Why a finding kept out of the violations makes a search incomplete, by its tag.
_INCOMPLETE_BY = {"atomic-order": "an unordered pair of atomic accesses makes the search "
                                  "incomplete (their two orders are not both explored)",
                  "ghost-order": "a task read ghost state another task wrote in an order no action "
                                 "fixes, so the search is incomplete (ghost state is in no footprint)"}
# Findings that are gaps only for a search ordering steps by their footprints.
_FOOTPRINT_GAPS = frozenset(("atomic-order", "ghost-order"))


class _PlainSearchNeeded(Exception):
    """The program has interrupt handlers and the scheduler reasons about CPUs in a way
    that does not cover them (dpor's sections), or it runs on a memory model whose
    choices the scheduler does not explore: explore restarts with dfs."""


def _explore(build, scheduler, properties, stop_on_violation, preemption_bound, max_executions,
             time_limit, seed, on_progress, progress_every, max_steps, stop, trusted) -> Result:
    """The body of :func:`explore` (``trusted``: the program's declarations the
    reductions may rely on, :class:`~checker.reductions.Declarations`)."""
    if not callable(build):
        raise UsageError(f"explore() needs a build function returning a Program, got {build!r}")
    for name, v in (("preemption_bound", preemption_bound), ("max_executions", max_executions)):
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            raise UsageError(f"{name} must be a non-negative integer or None, got {v!r}")
    if time_limit is not None and (not isinstance(time_limit, (int, float)) or not time_limit > 0):
        raise UsageError(f"time_limit must be a positive number of seconds or None, got {time_limit!r}")
    if max_steps is not None and (not isinstance(max_steps, int) or isinstance(max_steps, bool)
                                  or max_steps < 1):
        raise UsageError(f"max_steps must be a positive integer or None, got {max_steps!r}")
    sched = make_scheduler(scheduler, preemption_bound=preemption_bound, seed=seed,
                           executions=max_executions)
    result = Result(scheduler=sched.name, preemption_bound=preemption_bound,
                    seed=seed if sched.seed is None else sched.seed)
    start = time.perf_counter()
    deadline = start + time_limit if time_limit is not None else None
    next_progress = start + progress_every
    monitors = None
    seen = {}
    stopped = False
    race_tag = None     # the property tag of the first finding kept in result.race
    limits = Limits(max_steps, deadline, stop)
    world = None
    races = None        # the race detector the next execution may go on from
    replay = None       # the last execution's events, if it found nothing (World, replay)
    last = None         # the last execution's events, whatever it found (World, last)
    dog = Watchdog(deadline)
    outer_config = config.current()
    outer_recorder = memory.recorder()
    try:
        while True:
            if max_executions is not None and result.executions >= max_executions:
                result.reason = f"execution budget of {max_executions} reached"
                break
            if deadline is not None and time.perf_counter() >= deadline:
                result.reason = f"time limit of {time_limit}s reached"
                break
            if limits.stopped():
                result.reason = "stopped"
                break
            if not sched.new_execution():
                result.complete = True
                break
            program = _build(build)
            if program.has_interrupts and not sched.interrupts:
                raise _PlainSearchNeeded(f"the program has interrupt handlers, which {sched.name}'s "
                                         f"reduction does not cover yet")
            if program.memory_model.name not in sched.memory_models:
                raise _PlainSearchNeeded(f"the program runs on memory model {program.memory_model}, "
                                         f"whose read-from choices {sched.name} does not explore")
            if monitors is None:
                monitors = select(properties, program)
                reported = _reported(properties, monitors)
                for m in monitors.on_explore_start:
                    m.on_explore_start(program)
            # The race detector goes on from the last execution's, where it can
            # (checker/race_prefix.py: the steps they share are not judged again).
            world = World(program, monitors, program.build_uids, counters=trusted.counters,
                          references=trusted.references,
                          reported=reported, races=RaceDetector.kept(races, len(program.specs)),
                          replay=replay, last=last)
            world.coverage.update(program.built_coverage)
            if world.mm is not None and not sched.global_fences:
                world.mm.refuse_global = (f"the program uses smp_mb (or a fully ordered RMW) under "
                                          f"memory model {program.memory_model}, whose global view "
                                          f"{sched.name}'s footprints do not cover")
            steps = wrap(world, sched.reductions, trusted.guards, limits.max_steps, trusted)
            for m in monitors.on_execution_start:
                m.on_execution_start(world)
            status = _run(world, steps.step, sched, stop_on_violation, limits)
            # Before judge: a scheduler may drop what a run found (a probe beyond a
            # preemption bound), which the next run's replay must not take for silence.
            races = world._races if world._races.reusable(world) else None
            replay = world.events if not world.violations else None
            last = world.events
            status = sched.judge(world, status)
            result.steps += len(world.events)
            unreported = world.unreported
            if unreported and not sched.footprints:
                # An unordered pair of atomic accesses, or a ghost read unordered with
                # another task's write, is a gap only for a search that orders steps by
                # their footprints (checker/races.py, checker/ghost.py).
                unreported = [u for u in unreported if u[0] not in _FOOTPRINT_GAPS]
            if unreported:
                result.races += 1
                if not result.race:
                    race_tag, result.race = unreported[0]
            ran = world.coverage
            if ran:
                cov = result.coverage
                for k in ran:
                    cov[k] = cov.get(k, 0) + 1
            if status == "redundant":
                result.redundant += 1
            elif status == "pruned":
                result.pruned += 1
            else:
                if status == "deadlock":
                    result.deadlocks += 1
                if status in ("complete", "deadlock"):
                    for m in monitors.on_execution_end:
                        m.on_execution_end(world)
                    if program.observe is not None:
                        result.outcomes.add(program.observe())
                result.executions += 1
                if world.preemptions > result.max_preemptions:
                    result.max_preemptions = world.preemptions
            if world.violations:
                _collect(world, result, seen)
                if stop_on_violation:
                    stopped = True
                    sched.end_execution(world, status)
                    result.reason = "stopped at the first violation"
                    break
            sched.end_execution(world, status)
            if on_progress is not None:
                now = time.perf_counter()
                if now >= next_progress:
                    result.elapsed = now - start
                    on_progress(result)
                    next_progress = now + progress_every
        if monitors is not None:
            for m in monitors.on_explore_end:
                before = len(result.violations)
                m.on_explore_end(result)
                if len(result.violations) > before:
                    stopped = stopped or stop_on_violation
            exported = {m.name: st for m in monitors.all if (st := m.export_state()) is not None}
            if exported:
                result.states = [exported]
    # -- a search cut short (checker/budget.py): keep what was found ------------
    except Expired as exc:
        result.reason = "stopped" if exc.where == "stopped" else \
            f"time limit of {time_limit}s reached inside an execution ({exc.where})"
    except KeyboardInterrupt as exc:
        if raised_by_model(exc, world):
            raise ModelError(_exit_message(world, exc)) from None
        result.reason = "interrupted"
        result.elapsed = time.perf_counter() - start
        raise SearchInterrupted(result, signal_of(exc)) from None
    except Exception:  # noqa: TRY203 - kept apart from the BaseException below
        raise
    except BaseException as exc:  # noqa: BLE001 - SystemExit and the like, from the model's code
        raise ModelError(_exit_message(world, exc)) from None
    finally:
        dog.cancel()
        config.activate(outer_config)
        # A Ctrl-C can land between a step's setting of the recorder and the try that
        # resets it: plain code after the search (a replay, the next build) must not
        # run as if it were a task's step.
        memory.set_recorder(outer_recorder)
    if result.races and result.complete:
        # Not asked to report the race, but the search is complete only for
        # programs without one: say so instead of verifying (with violations found
        # too: others may hide in the orders the race stands for).
        result.complete = False
        why = _INCOMPLETE_BY.get(race_tag, "a data race makes the search incomplete (its plain "
                                           "accesses may interleave in ways not explored)")
        result.reason = f"{why}: {result.race}"
    if result.complete and sched.incomplete_reason:
        result.complete = False
        result.reason = sched.incomplete_reason
    if stopped and result.complete:
        result.complete = False
        result.reason = "stopped at the first violation"
    result.bound_cut = sched.cut
    if result.complete and preemption_bound is not None:
        result.bound_covered = preemption_bound
    result.elapsed = time.perf_counter() - start
    return result


def _reported(properties, monitors):
    """The property names violations may be reported under (None: all)."""
    if properties is None:
        return None
    from .monitor import ENGINE_PROPERTIES
    names = set(monitors.names)
    names.update(p for p in ([properties] if isinstance(properties, str) else properties)
                 if isinstance(p, str) and p in ENGINE_PROPERTIES)
    return frozenset(names)


def _build(build) -> Program:
    counter = [0]

    def uid():
        counter[0] += 1
        return ("b", counter[0])

    # build() is plain code, never a task's step, whatever an interrupted step left.
    outer = memory.set_recorder(None)
    take_built()
    try:
        with objects.making(uid) as made:
            program = build()
    except ZsmcError:
        raise
    except Exception as exc:     # a variant's set-up code failing is the model's error, not ours
        raise ModelError(f"the program's build() raised {type(exc).__name__}: {exc} "
                         f"({_innermost(exc)})") from exc
    finally:
        memory.set_recorder(outer)
    if not isinstance(program, Program):
        raise UsageError(f"build() must return a checker.Program, got {program!r}")
    program.built_coverage = take_built()
    program.build_uids = counter[0]
    program.declares_guards = made.guards > 0
    return program


def _run(world: World, step, sched, stop_on_violation: bool, limits) -> str:
    """Step ``world`` to the end of one execution, each of the scheduler's picks
    through ``step`` (its reduction's); returns its status."""
    pick = sched.pick
    enabled = world.enabled
    n = 0
    while True:
        n += 1
        if not n % CHECK_EVERY:
            limits.during(world, len(world.events))
        en = enabled()
        if not en:
            if world.all_finished():
                return "complete"
            world.deadlocked = True
            mons = world.monitors.on_deadlock
            if mons:
                blocked = world.blocked_description()
                for m in mons:
                    m.on_deadlock(world, blocked)
            return "deadlock"
        choice = pick(world, en)
        if choice is None:
            return "redundant"
        if choice is False:
            return "pruned"
        step(choice[0], choice[1])
        if world.violations and stop_on_violation:
            world.ended_by_violation = True
            return "violation"


def steps_of(world: World, upto=None) -> list:
    """The events of ``world`` as :class:`Step` records (for reports and traces)."""
    tasks = world.tasks
    evs = world.events if upto is None else world.events[:upto + 1]
    return [Step(e.index, e.task, tasks[e.task].name, tasks[e.task].cpu, e.action.describe(),
                 e.result, e.choice, e.preemption, e.pc) for e in evs]


def _collect(world: World, result: Result, seen: dict) -> None:
    for prop, message, step, task, involved, runs in world.violations:
        result.violation_count += 1
        key = (prop, message)
        if key in seen:
            continue
        seen[key] = True
        sched = [(e.task, e.choice) for e in world.events[:step + 1]]
        result.violations.append(Violation(
            property=prop, message=message, step=step,
            task=world.tasks[task].name if task is not None else None,
            schedule=sched, steps=steps_of(world, step), involved=tuple(involved),
            execution=result.executions, tasks=[(t.name, t.cpu, t.role) for t in world.tasks],
            runs=runs))


def _innermost(exc) -> str:
    """Where ``exc`` was raised: ``in FUNCTION (file:line)``."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return "where unknown"
    return f"in {code_location(tb.tb_frame.f_code, tb.tb_lineno)}"


def raised_by_model(exc, world) -> bool:
    """Whether a KeyboardInterrupt came from a task's own code (``raise KeyboardInterrupt``)
    rather than from Ctrl-C: a plain KeyboardInterrupt out of a task, while no signal is
    pending and Ctrl-C would not raise one (zsmc's handler raises its own kind and marks
    the signal pending, worker processes ignore it, other threads never get it)."""
    if type(exc) is not KeyboardInterrupt or getattr(world, "culprit", None) is None:
        return False
    if interrupt_pending() is not None:
        return False
    import signal
    import threading
    return (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler)


def _exit_message(world, exc) -> str:
    who = getattr(getattr(world, "culprit", None) or getattr(world, "_active", None), "name", None)
    where = f"task {who}" if who else "the program's build()"
    text = str(exc).strip().splitlines()
    return (f"{where} raised {type(exc).__name__}({text[0] if text else ''}): a model must not exit "
            "or raise BaseException; a kernel BUG is a checker.Bug or an assert")
