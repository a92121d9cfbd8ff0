"""Monitors (property checkers) and the registry that finds them by name.

A monitor overrides only the hooks it needs; :class:`Monitors` builds one list
per hook once per exploration, so an unused hook costs nothing in the loop
(style.md lesson 7).  ``checker`` imports nothing from ``properties`` at load
time: names resolve lazily through dotted paths, as Hypothesis does for its
providers.

Hooks (all optional):

* ``on_explore_start(program)``: once, with the first execution's program.
* ``on_execution_start(world)``: before the first step of every execution.
* ``on_pending(world, task, action)``: a task has just yielded ``action``;
  everything that decides it (the task's preempt count and held locks) is the
  task's own, so checks made here do not depend on the interleaving.
* ``on_event(world, event)``: after each step's action, before the task resumes
  (the state is the one right after the action).
* ``on_step_end(world, event)``: after the task's code following the action
  has run up to its next action (part of the same step, :mod:`checker.memory`):
  ``event.fps``, ``event.plain`` and ``event.dead`` are complete.
* ``on_task_finish(world, task)``: a task's generator returned.
* ``on_deadlock(world, blocked)``: no task is enabled while some are
  unfinished; ``blocked`` is ``world.blocked_description()``.
* ``on_execution_end(world)``: after the last step of a complete execution.
* ``on_explore_end(result)``: once, at the end.

A monitor reports with ``world.report(self.name, message, task=..., steps=...)``.

A monitor whose verdict spans executions (lock-order's graph grows over the
whole search) also has two methods for a split search (:mod:`checker.merge`),
which explores subtrees apart and must still report what their union shows:
``export_state()`` at the end of each subtree, then ``merge(states)`` once,
with every subtree's state.  The defaults keep no state and merge nothing.
Such a monitor may also go on from one program to another: ``carry_over()``
returns a new monitor that starts from what this one saw (a trace whose
earlier runs are of other scenarios of a check, replayed one program after
another; lock-order's one graph per boot, properties/lockdep_global.py).

A monitor may declare ``replay_pure = True``: its ``on_pending``, ``on_event``
and ``on_step_end`` keep no state within an execution and judge nothing but
the World's state then (the model's data included).  ``explore`` then skips
those hooks while an execution repeats the steps of the one before it, which
found nothing: each verdict there is the one already reached, silence
(checker/world.py, ``replay``; issue 14's cost per execution).  A monitor
with state across steps, or whose verdict depends on earlier executions
(lock-order), must not declare it.

``on_pending`` and ``on_task_finish`` also run while a World is being built
(each task runs to its first yield), that is before ``on_execution_start``:
a monitor that keeps per-execution state should key it on the World.
"""

from __future__ import annotations

import importlib

from .errors import InternalError, UsageError

# name -> "module:Class".  Models and users may add entries with register().
REGISTRY: dict[str, str] = {
    "no-free-while-mapped": "properties.free_while_mapped:NoFreeWhileMapped",
    "writers-never-block": "properties.writers_never_block:WritersNeverBlock",
    "lock-order": "properties.lock_order:LockOrder",
    "irq-lock-state": "properties.irq_lock_state:IrqLockState",
    "sleep-in-atomic": "properties.sleep_in_atomic:SleepInAtomic",
    "deadlock": "properties.deadlock:Deadlock",
    "data-integrity": "properties.data_integrity:DataIntegrity",
    "pool-consistency": "properties.pool_consistency:PoolConsistency",
    "lock-balance": "properties.lock_balance:LockBalance",
}

# Reported by the engine itself, with no monitor, whatever the selection: ``bug``
# (a model's BUG_ON: ``checker.Bug`` or a failed assertion in a task) and
# ``data-race`` (checker.races: the search is complete only for programs
# without one).  Naming them in ``properties`` is accepted and adds no monitor.
ENGINE_PROPERTIES = {
    "bug": "a BUG_ON in the model (checker.Bug or a failed assertion in a task); always checked",
    "data-race": "two plain accesses to shared memory, one a write, that no lock or action orders; "
                 "always checked (an unselected one makes the search incomplete)",
}

HOOKS = ("on_explore_start", "on_execution_start", "on_pending", "on_event", "on_step_end",
         "on_task_finish", "on_deadlock", "on_execution_end", "on_explore_end")


class Monitor:
    """Base class of property monitors.

    ``name`` is the registry name and the ``property`` of its violations.
    ``applies(program)`` says whether the property means anything for a
    program (the default set of ``explore`` keeps only those that apply).
    """

    name = ""
    description = ""
    # Its per-step hooks are functions of the World's state alone (module docstring).
    replay_pure = False

    def applies(self, program) -> bool:
        return True

    def export_state(self):
        """What this monitor keeps across executions, for a split search to merge
        (None: nothing).  Plain data (lists, tuples, dicts, strings, numbers): it
        crosses processes and a checkpoint stores it as JSON, so :meth:`merge`
        may get lists where tuples were."""
        return None

    def carry_over(self) -> Monitor:
        """A new monitor of this property for the next program of a replay, starting
        from what this one saw (default: from nothing)."""
        return type(self)()

    def merge(self, states):
        """What only the union of several searches shows.  ``states``: what
        :meth:`export_state` returned in each subtree, in subtree order.

        Yields ``(monitor, schedule)`` pairs: the engine replays each
        ``schedule`` (``(task, choice)`` pairs, one execution) with ``monitor``
        as its only property (typically a new one seeded with the union of the
        states before it) and reports the violations found, so that each comes
        with an execution that shows it."""
        return ()


def register(name: str, path: str) -> None:
    """Register a monitor class under ``name`` by dotted path ``module:Class``."""
    REGISTRY[name] = path


def resolve(name_or_monitor):
    """A monitor instance from a registry name, a Monitor class or instance (None for a
    name of :data:`ENGINE_PROPERTIES`, which needs no monitor)."""
    if isinstance(name_or_monitor, str) and name_or_monitor in ENGINE_PROPERTIES:
        return None
    if isinstance(name_or_monitor, Monitor):
        return name_or_monitor
    if isinstance(name_or_monitor, type) and issubclass(name_or_monitor, Monitor):
        return name_or_monitor()
    if not isinstance(name_or_monitor, str):
        raise UsageError(f"a property is a registry name or a Monitor, got {name_or_monitor!r}")
    path = REGISTRY.get(name_or_monitor)
    if path is None:
        known = ", ".join(sorted({*REGISTRY, *ENGINE_PROPERTIES}))
        raise UsageError(f"unknown property {name_or_monitor!r}; known properties: {known}")
    module, _, cls = path.partition(":")
    try:
        obj = getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"property {name_or_monitor!r}: cannot load {path} ({exc})") from exc
    return obj()


class Monitors:
    """The monitors of one exploration, with one list per hook."""

    def __init__(self, monitors):
        self.all = list(monitors)
        for hook in HOOKS:
            setattr(self, hook, [m for m in self.all if _overrides(m, hook)])
        # The per-step hooks to run while an execution repeats the last one's steps.
        self.replaying = {hook: [m for m in getattr(self, hook) if not m.replay_pure]
                          for hook in ("on_pending", "on_event", "on_step_end")}

    @property
    def names(self):
        return [m.name for m in self.all]


def _overrides(monitor, hook: str) -> bool:
    fn = getattr(type(monitor), hook, None)
    return fn is not None and fn is not getattr(Monitor, hook, None)


def with_engine(properties, monitors) -> list:
    """``monitors`` (selected for ``properties``) and the engine's own properties the
    same ``properties`` ask for (None: both), as a list ``explore(properties=...)``
    reports under exactly as it would under ``properties`` itself.  A split search
    hands its subtrees monitor objects (their state is exported): given those
    alone, a data race in a subtree was unreported (the search "incomplete", no
    violation) where the serial search reports it."""
    if properties is None:
        wanted = list(ENGINE_PROPERTIES)
    else:
        asked = [properties] if isinstance(properties, (str, Monitor)) else list(properties)
        wanted = [p for p in asked if isinstance(p, str) and p in ENGINE_PROPERTIES]
    return list(monitors) + wanted


def select(properties, program):
    """The monitors for ``explore(properties=...)``.

    None: every registered property that applies to ``program``.  One that
    fails to load is an :class:`~checker.errors.InternalError`: a broken
    install must not check less and still say "pass".  (A program checked
    without properties says so: ``properties=[]``.)
    """
    if properties is None:
        out = []
        for name in REGISTRY:
            try:
                m = resolve(name)
            except UsageError as exc:
                raise InternalError(f"the registered property {name!r} cannot be loaded, so a "
                                    f"check would miss it: {exc}") from exc
            if m.applies(program):
                out.append(m)
        return Monitors(out)
    if isinstance(properties, (str, Monitor)):
        properties = [properties]
    return Monitors([m for m in map(resolve, properties) if m is not None])
