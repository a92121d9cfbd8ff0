"""Schedulers: each picks the next step of an execution (one file per scheduler).

The contract (shuttle's design) is :class:`~checker.schedulers.base.Scheduler`:
``new_execution``, ``pick`` and ``end_execution``.  Its optional parts
(``name``, ``seed``, ``reductions``, ``interrupts``, ``memory_models``, ``cut``,
``incomplete_reason``, ``judge``, ``reset``) have their defaults in
:class:`~checker.schedulers.base.BaseScheduler`, which the built-in
schedulers subclass.
"""

from __future__ import annotations

from ..errors import UsageError
from .base import BaseScheduler, Scheduler, adapt  # noqa: F401 - the contract, re-exported

SCHEDULERS = {
    "dpor": "optimal dynamic partial-order reduction (exhaustive, one execution per Mazurkiewicz trace)",
    "dfs": "every interleaving, no reduction (the oracle dpor is tested against)",
    "random": "uniformly random schedules, seeded (sampled: never complete)",
    "pct": "probabilistic concurrency testing with bug depth d, seeded (sampled: never complete)",
    "hypothesis": "Hypothesis draws each schedule and shrinks a failure; seeded, failures "
                  "replayed first from .hypothesis/ (sampled: never complete)",
    "replay": "follows a recorded schedule exactly (zsmc replay FILE)",
}


def make_scheduler(spec, preemption_bound=None, seed=0, executions=None, depth=3):
    """A scheduler from a name or an instance (a BaseScheduler is used as is, another
    Scheduler is seen through :func:`~checker.schedulers.base.adapt`).  ``executions``:
    a sampled scheduler's count (None: its own default, random 1000, pct 5000)."""
    sampled = {} if executions is None else {"executions": executions}
    if not isinstance(spec, str):
        sched = adapt(spec)
        if sched is None:
            raise UsageError(f"scheduler must be a name or a Scheduler, got {spec!r}")
        return sched
    if spec == "dfs":
        from .dfs import DFS
        return DFS(preemption_bound=preemption_bound)
    if spec == "dpor":
        if preemption_bound is not None:
            # DPOR's one ordering per trace may exceed a bound another ordering
            # fits: the bounded search keeps traces as states instead (bounded_dpor.py).
            from .bounded_dpor import BoundedDPOR
            return BoundedDPOR(preemption_bound)
        from .dpor import DPOR
        return DPOR()
    if spec == "random":
        from .random import RandomScheduler
        return RandomScheduler(seed=seed, preemption_bound=preemption_bound, **sampled)
    if spec == "pct":
        from .pct import PCT
        return PCT(depth=depth, seed=seed, preemption_bound=preemption_bound, **sampled)
    if spec == "replay":
        raise UsageError("the replay scheduler follows a trace: use zsmc replay FILE")
    if spec == "hypothesis":
        raise UsageError("hypothesis is a whole search, not a per-step scheduler: use "
                         "checker.hypothesis_search (zsmc check --scheduler hypothesis does)")
    known = ", ".join(sorted(SCHEDULERS))
    raise UsageError(f"unknown scheduler {spec!r}; known schedulers: {known}")
