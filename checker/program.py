"""A program: the tasks of one execution, their CPUs, and what to observe.

``build()`` returns a fresh :class:`Program` for every execution; the engine
never reuses generators or shared objects between executions.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field

from .config import resolve as resolve_config
from .memory_model import resolve as resolve_memory_model
from .errors import ModelError, UsageError


def _is_generator_function(fn) -> bool:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return inspect.isgeneratorfunction(fn)


@dataclass(slots=True, frozen=True)
class Task:
    """A task: a zero-argument generator function plus a name, a CPU and a role.

    ``cpu=None`` lets the :class:`Program` place it.  ``role`` is free text for
    reports ("client", "compaction", "migration", ...).  ``irq`` makes it an
    interrupt handler of its CPU (``"hard"`` or ``"soft"``; :mod:`checker.interrupts`).
    """

    fn: object
    name: str | None = None
    cpu: int | None = None
    role: str | None = None
    irq: str | None = None


@dataclass(slots=True)
class Program:
    """The tasks of one execution.

    ``cpus=None`` gives every task without an explicit CPU a CPU of its own;
    an integer ``cpus`` places such tasks round-robin on CPUs ``0..cpus-1``.
    ``observe`` is called after each complete execution; its (hashable) value
    is collected in ``Result.outcomes``.  ``context`` is any object the
    monitors of a model want to inspect (the zsmalloc pool, say).  ``config``
    is the kernel configuration the program runs under (``"default"``, i.e.
    !PREEMPT_RT, or ``"rt"``; :mod:`checker.config`): it decides how its
    locks behave.  ``memory_model`` is ``"sc"`` (the default) or ``"ra"``
    (:mod:`checker.memory_model`): what a Var's loads may read.
    """

    tasks: list
    cpus: int | None = None
    observe: object = None
    context: object = None
    name: str | None = None
    config: object = None
    memory_model: object = None
    # Filled by __post_init__:
    specs: list = field(default_factory=list, init=False)
    # Whether building it declared a guarded Var (set by the explorer's build;
    # without one no search groups guarded sections: checker.reductions).
    declares_guards: bool = field(default=True, init=False)
    # How many objects building it numbered: the World numbers on from there.
    build_uids: int = field(default=0, init=False)
    # What building it ran (checker.coverage.covered outside task code).
    built_coverage: set = field(default_factory=set, init=False)

    def __post_init__(self):
        try:
            self.config = resolve_config(self.config)
            self.memory_model = resolve_memory_model(self.memory_model)
        except UsageError as exc:
            raise ModelError(f"Program: {exc}") from None
        if not isinstance(self.tasks, (list, tuple)) or not self.tasks:
            raise ModelError("Program needs a non-empty list of tasks")
        if self.cpus is not None and (not isinstance(self.cpus, int) or self.cpus < 1):
            raise ModelError(f"Program cpus must be None or a positive integer, got {self.cpus!r}")
        specs = []
        names = set()
        for i, t in enumerate(self.tasks):
            if not isinstance(t, Task):
                t = Task(t)
            if not callable(t.fn) or not _is_generator_function(t.fn):
                raise ModelError(
                    f"task {t.name or i} is {t.fn!r}, which is not a generator function; "
                    "a task is a zero-argument function that yields actions")
            name = t.name or getattr(t.fn, "__name__", None) or f"task{i}"
            if name in names:
                name = f"{name}#{i}"
            names.add(name)
            if t.irq is not None:
                if t.irq not in ("hard", "soft"):
                    raise ModelError(f"task {name}: irq must be 'hard' or 'soft', got {t.irq!r}")
                if t.cpu is None:
                    raise ModelError(f"task {name}: an interrupt handler needs the CPU it fires on")
            fn = t.fn if t.irq is None else _irq_entry(t.fn, t.irq)
            specs.append(Task(fn, name, t.cpu, t.role, t.irq))
        explicit = {t.cpu for t in specs if t.cpu is not None}
        for t in specs:
            if t.cpu is not None and (not isinstance(t.cpu, int) or t.cpu < 0):
                raise ModelError(f"task {t.name}: cpu must be a non-negative integer, got {t.cpu!r}")
            if self.cpus is not None and t.cpu is not None and t.cpu >= self.cpus:
                raise ModelError(f"task {t.name} is pinned to CPU {t.cpu} but the program has {self.cpus} CPUs")
        placed = []
        fresh = 0
        for i, t in enumerate(specs):
            cpu = t.cpu
            if cpu is None:
                if self.cpus is None:
                    while fresh in explicit:
                        fresh += 1
                    cpu = fresh
                    fresh += 1
                else:
                    cpu = i % self.cpus
            placed.append(Task(t.fn, t.name, cpu, t.role, t.irq))
        self.specs = placed

    @property
    def has_interrupts(self) -> bool:
        """Whether some task is an interrupt handler (:mod:`checker.interrupts`)."""
        return any(t.irq is not None for t in self.specs)

    @property
    def ncpus(self) -> int:
        return max(t.cpu for t in self.specs) + 1


def _irq_entry(fn, kind: str):
    """A handler's code behind its entry: the interrupt is taken (the CPU is the
    handler's) before the handler's first action, which may then wait, as an
    interrupt that spins on a lock its CPU's task holds does (for ever)."""
    from .actions import label

    @functools.wraps(fn)
    def handler():
        yield label(f"{kind}irq entry")
        return (yield from fn())
    return handler

