"""``pct``: probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte,
ASPLOS 2010), with bug depth ``d``.

The algorithm, per execution:

1. give the ``n`` tasks distinct random priorities;
2. pick ``d - 1`` distinct *change points* uniformly among the first ``k``
   scheduling decisions;
3. at each step run the highest-priority enabled task;
4. when the execution reaches the i-th change point, lower the priority of
   the task that took the last step below every priority given so far.

A bug of depth ``d`` (``d`` ordering constraints between steps suffice to
trigger it) is then found by each execution with probability at least
``1 / (n * k^(d-1))`` (the paper's Theorem 7).  A ``choose`` is not a
scheduling decision of PCT: its option is drawn uniformly.

Choices made where the paper leaves room (following shuttle and Coyote,
which implement the paper the same way):

* ``k`` counts *decisions*, steps where more than one task was enabled (the
  paper's section 4.1: change points in sequential stretches are wasted).  It
  is estimated from the previous execution, whose decision count is known;
  the first execution has no estimate and so no change points.  Change points
  are drawn from ``[1, k - 1]`` so that a decision always follows one.
* A task that gives up its CPU (``sleep()``, ``cond_resched()``) while another
  task is enabled is lowered as at a change point, without using one up.  A
  trylock-and-``cond_resched()`` retry loop would otherwise run forever at the
  highest priority; the paper assumes fair programs, the kernel's retry loops
  are fair only because the CPU yields.

The scheduler only runs tasks ``explore()`` reports enabled, so the engine's
CPU semantics hold (an atomic task owns its CPU).  Sampling never covers the
space: ``incomplete_reason`` makes every result incomplete.  All randomness
comes from one ``random.Random(seed)``: a seed gives the same executions and
first violation every time.
"""

from __future__ import annotations

import random as _random

from .base import BaseScheduler
from .random import check_count, check_seed

_CHOOSE = 14         # checker.actions.CHOOSE
_YIELDS = (11, 13)   # COND_RESCHED, SLEEP


class PCT(BaseScheduler):
    """Runs ``executions`` PCT executions of depth ``depth`` from ``random.Random(seed)``.

    ``preemption_bound``: steps that would exceed it are not offered (the
    execution is pruned when none is left), as with ``dfs``.
    Attributes read by tests and reports: ``depth``, ``change_points`` (of the
    current or last execution, decision numbers), ``k`` (the estimate those
    points were drawn from), ``decisions`` (of the current or last execution).
    """

    def __init__(self, depth: int = 3, executions: int = 1000, seed: int = 0,
                 preemption_bound=None):
        self.depth = check_count("depth", depth, 1)
        self.name = f"pct (depth {depth})"
        self.memory_models = ("sc", "ra")
        self.executions = check_count("executions", executions)
        self.seed = check_seed(seed)
        if preemption_bound is not None:
            check_count("preemption_bound", preemption_bound)
        self.bound = preemption_bound
        self.rng = _random.Random(seed)
        self.runs = 0
        self.k = 0                      # decisions of the previous execution
        self.decisions = 0              # decisions so far in this execution
        self.change_points = frozenset()  # invariant: len <= depth - 1, all in [1, k - 1]
        self.prio = None                # per task; smaller runs first; values distinct
        self.lowest = 0                 # next demoted priority (below every other)
        self.last = None                # task that took the last step

    @property
    def incomplete_reason(self) -> str:
        return f"sampled: {self.runs} PCT executions (depth {self.depth})"

    def new_execution(self) -> bool:
        if self.runs >= self.executions:
            return False
        self.runs += 1
        k = self.k
        points = min(self.depth - 1, max(k - 1, 0))
        self.change_points = frozenset(self.rng.sample(range(1, k), points)) if points else frozenset()
        self.decisions = 0
        self.prio = None
        self.last = None
        return True

    def _start(self, n: int) -> None:
        order = list(range(n))
        self.rng.shuffle(order)
        prio = [0] * n
        for rank, t in enumerate(order):
            prio[t] = rank
        self.prio = prio
        self.lowest = n

    def _demote(self, t: int) -> None:
        self.prio[t] = self.lowest
        self.lowest += 1

    def pick(self, world, enabled):
        if self.prio is None:
            self._start(len(world.tasks))
        bound = self.bound
        if bound is not None and world.preemptions >= bound:
            enabled = [t for t in enabled if not world.would_preempt(t)]
            if not enabled:
                return False
        if len(enabled) > 1:
            last = self.last
            if last is not None and (self.decisions in self.change_points
                                     or world.events[-1].action.op in _YIELDS):
                self._demote(last)
            self.decisions += 1
            prio = self.prio
            t = min(enabled, key=prio.__getitem__)
        else:
            t = enabled[0]
        self.last = t
        a = world.tasks[t].pending
        if a.op == _CHOOSE or world.mm is not None:
            opts = world.choices(t)
            return (t, opts[self.rng.randrange(len(opts))] if len(opts) > 1 else opts[0])
        return (t, None)

    def end_execution(self, world, status) -> None:
        self.k = self.decisions
