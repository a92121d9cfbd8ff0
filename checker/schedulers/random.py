"""``random``: uniformly random schedules, a given number of them (shuttle's RandomScheduler).

Each step picks uniformly among the enabled *steps*: a step is a task index
and, for a task whose pending action is a ``choose``, one of its options
(``(task, None)`` otherwise).  A task with three options therefore weighs three
times as much as a task with a plain action, exactly as if each option were a
task of its own; this makes every step of the tree the exhaustive search walks
equally likely at each branching point.

The scheduler only picks among the steps ``explore()`` reports enabled, so the
engine's CPU semantics (an atomic task owns its CPU, a waiter waits) hold for
every sampled execution.  With a preemption bound, a step that would preempt
is offered only while the execution has preemptions left; when every enabled
step would exceed the bound the execution is abandoned as pruned (as ``dfs``
does), which the result counts apart.

Sampling never covers the space: after its ``executions`` runs the scheduler
reports ``incomplete_reason``, which ``explore()`` turns into
``Result.complete = False``.  All randomness comes from one
``random.Random(seed)`` owned by the scheduler, so a seed gives the same
executions, counts and first violation every time (ARCHITECTURE.md section 2,
Determinism).
"""

from __future__ import annotations

import random as _random

from ..errors import UsageError
from .base import BaseScheduler

_CHOOSE = 14  # checker.actions.CHOOSE; a literal keeps the hot path free of lookups


def check_count(name: str, value, minimum: int = 0) -> int:
    """``value`` as an int >= ``minimum``, or a one-line UsageError naming ``name``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise UsageError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def check_seed(seed) -> int:
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise UsageError(f"seed must be an integer, got {seed!r}")
    return seed


def enabled_steps(world, tasks_enabled) -> list:
    """Every enabled step ``(task, choice)``, in task order, options in their order."""
    tasks = world.tasks
    out = []
    for t in tasks_enabled:
        a = tasks[t].pending
        if a.op == _CHOOSE:
            out.extend((t, c) for c in a.arg)
        else:
            out.append((t, None))
    return out


class RandomScheduler(BaseScheduler):
    """Runs ``executions`` uniformly random executions from ``random.Random(seed)``.

    ``preemption_bound``: at most that many preemptions per execution (None:
    unbounded).  Attributes read by callers: ``name``, ``seed``, ``runs``
    (executions started so far) and ``incomplete_reason``.
    """

    def __init__(self, executions: int = 1000, seed: int = 0, preemption_bound=None):
        self.name = "random"
        self.memory_models = ("sc", "ra")
        self.executions = check_count("executions", executions)
        self.seed = check_seed(seed)
        if preemption_bound is not None:
            check_count("preemption_bound", preemption_bound)
        self.bound = preemption_bound
        self.rng = _random.Random(seed)
        self.runs = 0  # invariant: runs <= executions

    @property
    def incomplete_reason(self) -> str:
        return f"sampled: {self.runs} random executions"

    def new_execution(self) -> bool:
        if self.runs >= self.executions:
            return False
        self.runs += 1
        return True

    def pick(self, world, enabled):
        bound = self.bound
        if bound is not None and world.preemptions >= bound:
            enabled = [t for t in enabled if not world.would_preempt(t)]
            if not enabled:
                return False
        if world.mm is not None:
            # A weak model: the store a load reads and a store's place are choices too.
            steps = [(t, c) for t in enabled for c in world.choices(t)]
            return steps[self.rng.randrange(len(steps))] if len(steps) > 1 else steps[0]
        tasks = world.tasks
        for t in enabled:
            if tasks[t].pending.op == _CHOOSE:
                steps = enabled_steps(world, enabled)
                return steps[self.rng.randrange(len(steps))]
        if len(enabled) == 1:
            # No decision to make: consuming no randomness keeps the seed's
            # sequence for the steps where it matters.
            return (enabled[0], None)
        return (enabled[self.rng.randrange(len(enabled))], None)

    def end_execution(self, world, status) -> None:
        pass
