"""The scheduler contract: what the exploration loop asks of a scheduler.

:class:`Scheduler` is the contract as a :class:`typing.Protocol`: three
methods, all a scheduler must have (shuttle's design).  :class:`BaseScheduler`
adds the optional parts as attributes and methods with their defaults; every
built-in scheduler subclasses it, so ``explore`` reads them directly instead
of probing.  A scheduler written against the three methods alone still
works: :func:`adapt` wraps it in a BaseScheduler that reads its optional
parts where it has them.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..reductions import SECTIONS, MacroSteps

REQUIRED = ("new_execution", "pick", "end_execution")


@runtime_checkable
class Scheduler(Protocol):
    """Picks the next step of an execution.

    * ``new_execution() -> bool``: prepare the next execution; False when the
      space is exhausted.
    * ``pick(world, enabled) -> (task, choice) | None | False``: the next
      step, given the enabled task indices.  None abandons the execution as
      redundant (sleep-set blocked); False abandons it as pruned (preemption
      bound).
    * ``end_execution(world, status)``: the execution ended with ``status``
      (complete, deadlock, violation, redundant, pruned).
    """

    def new_execution(self) -> bool: ...

    def pick(self, world, enabled): ...

    def end_execution(self, world, status) -> None: ...


class BaseScheduler:
    """A :class:`Scheduler` with the optional parts of the contract at their defaults."""

    # The Result's ``scheduler``.
    name = "custom"
    # The seed the Result reports; None: the one explore() was given.
    seed = None
    # The reductions that may make this scheduler's steps (checker.reductions):
    # the first that applies to the program wraps the World, and each pick is
    # one of its steps (an atomic section, a guarded section); none applies:
    # every World step.  The picks must allow for it.
    reductions = ()
    # Whether the scheduler is sound on programs with interrupt handlers
    # (checker.interrupts): one that only asks the World what is enabled is.
    interrupts = True
    # The memory models (checker.memory_model) whose branching the scheduler
    # explores: under a weak one a load's store and a store's place are choices
    # of the step (World.choices).  A scheduler that takes every choice World
    # offers supports every model; the default is the one that has none.
    memory_models = ("sc",)
    # Whether it orders steps by their footprints (a reduction): then an unordered
    # pair of atomic-field accesses, in no footprint, makes its search incomplete
    # (checker/races.py). A search of every order of the steps (dfs) does not.
    footprints = True
    # Whether it copes with smp_mb's global view under a weak model (a step that
    # reads every location's history; dpor's footprints do not say so).
    global_fences = True
    # Branches a bound removed (Result.bound_cut); read when the search ends.
    cut = 0
    # Non-empty: a search that ran out of executions is still not complete (a
    # sampling scheduler's "sampled", a stepped execution); read when it ends.
    incomplete_reason = ""

    def new_execution(self) -> bool:
        raise NotImplementedError

    def pick(self, world, enabled):
        raise NotImplementedError

    def end_execution(self, world, status) -> None:
        pass

    def judge(self, world, status) -> str:
        """The status the loop counts for an execution that ended with ``status``
        (a scheduler that knows the run reached a known state says ``redundant``)."""
        return status

    def reset(self) -> None:
        """Forget the search so far and start again (``explore`` after a broken
        declaration, without the reduction that relied on it).  The default cannot."""
        raise NotImplementedError(f"{self.name} cannot start again")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Written to the contract before ``reductions``: its booleans name them.
        if ("macro" in vars(cls) or "guards" in vars(cls)) and "reductions" not in vars(cls):
            cls.reductions = property(_legacy_reductions)


def _reductions_of(inner) -> tuple:
    got = getattr(inner, "reductions", None)
    return _legacy_reductions(inner) if got is None else got


def _legacy_reductions(sched) -> tuple:
    """The reductions a scheduler written to the contract before ``reductions``
    asks for: ``macro`` True asked for sections as steps, and ``guards`` False
    (after a broken guard) left guarded sections out."""
    if not getattr(sched, "macro", False):
        return ()
    return SECTIONS if getattr(sched, "guards", True) else (MacroSteps,)


class _Adapted(BaseScheduler):
    """A three-method scheduler seen through the full contract: its optional
    parts are read from it each time, as it may change them during a search."""

    def __init__(self, inner):
        self.inner = inner
        self.new_execution = inner.new_execution
        self.pick = inner.pick
        self.end_execution = inner.end_execution
        judge = getattr(inner, "judge", None)
        if judge is not None:
            self.judge = judge
        reset = getattr(inner, "reset", None)
        if reset is not None:
            self.reset = reset

    name = property(lambda self: getattr(self.inner, "name", type(self.inner).__name__))
    seed = property(lambda self: getattr(self.inner, "seed", None))
    reductions = property(lambda self: _reductions_of(self.inner))
    cut = property(lambda self: getattr(self.inner, "cut", 0))
    memory_models = property(lambda self: getattr(self.inner, "memory_models", ("sc",)))
    incomplete_reason = property(lambda self: getattr(self.inner, "incomplete_reason", ""))
    footprints = property(lambda self: getattr(self.inner, "footprints", True))


def adapt(scheduler) -> BaseScheduler:
    """``scheduler`` as a BaseScheduler (itself if it is one); None if it is no Scheduler."""
    if isinstance(scheduler, BaseScheduler):
        return scheduler
    if isinstance(scheduler, Scheduler):
        return _Adapted(scheduler)
    return None
