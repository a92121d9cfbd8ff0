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
* Every other execution counts its change points in *unlocks* instead of
  decisions: decisions right after the last task released its last lock or
  re-enabled preemption (a ``release`` or ``preempt_enable`` that left it
  holding nothing, preemptible), drawn among the most of them any execution
  so far has made (they are counted at decisions only, so an execution where
  the unlocking task ran alone has few).  A locking bug's window often opens right after the outermost
  unlock (a reader that drops the zspage lock before its last use, a writer
  that walks to the next page after it), and a long operation makes many
  decisions but few such unlocks: on the zsmalloc model's ``large`` pool an
  execution has 125-275 decisions, about 30 releases and about 10 unlocks,
  so a change point lands on a given unlock 12-27 times more often than
  on a given decision.  The other executions keep the paper's uniform
  points (a window inside a critical section, or between two accesses of a
  preemptible task, has no unlock), so the paper's bound holds for half the
  executions; a program with fewer than 2 unlocks so far counts decisions.  ``units=("decisions",)`` is the paper's
  scheduler.
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

from ..errors import UsageError
from .base import BaseScheduler
from .random import check_count, check_seed

_CHOOSE = 14         # checker.actions.CHOOSE
_YIELDS = (11, 13)   # COND_RESCHED, SLEEP
_RELEASES = (8, 10)  # RELEASE, PREEMPT_ENABLE
UNITS = ("decisions", "unlocks")
# Executions per run by default: the catalogue's narrowest window on the model's
# ``large`` pool (write-second-half-after-unlock) took 838-3,059 executions over
# seeds 0-4 (docs/sampling.md); with 1,000 every seed missed it.
DEFAULT_EXECUTIONS = 5000


class PCT(BaseScheduler):
    """Runs ``executions`` PCT executions of depth ``depth`` from ``random.Random(seed)``.

    ``preemption_bound``: steps that would exceed it are not offered (the
    execution is pruned when none is left), as with ``dfs``.
    Attributes read by tests and reports: ``depth``, ``change_points`` (of the
    current or last execution, in its unit), ``unit`` (the unit of the current
    or last execution), ``k`` (the estimate those points were drawn from: the
    previous execution's decisions, or the most unlocks of any execution so
    far), ``decisions`` and ``unlocks`` (of the current or last execution).
    ``units``: the units executions count change points in, in turn.
    """

    def __init__(self, depth: int = 3, executions: int = DEFAULT_EXECUTIONS, seed: int = 0,
                 preemption_bound=None, units=UNITS):
        self.depth = check_count("depth", depth, 1)
        if not units or not isinstance(units, (tuple, list)) or any(u not in UNITS for u in units):
            raise UsageError(f"units must be a non-empty sequence of {', '.join(UNITS)}; got {units!r}")
        self.units = tuple(units)
        self.name = f"pct (depth {depth})"
        self.memory_models = ("sc", "ra")
        self.executions = check_count("executions", executions)
        self.seed = check_seed(seed)
        if preemption_bound is not None:
            check_count("preemption_bound", preemption_bound)
        self.bound = preemption_bound
        self.rng = _random.Random(seed)
        self.runs = 0
        self.counts = {u: 0 for u in UNITS}   # the previous execution's decisions; the most unlocks
        self.unit = self.units[0]
        self.k = 0                      # counts[unit] when this execution started
        self.decisions = 0              # decisions so far in this execution
        self.unlocks = 0                # decisions right after an outermost unlock, so far
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
        unit = self.units[self.runs % len(self.units)]
        if unit == "unlocks" and self.counts["unlocks"] < 2:
            unit = "decisions"          # nothing to count (a program without locks)
        self.runs += 1
        self.unit = unit
        self.k = k = self.counts[unit]
        points = min(self.depth - 1, max(k - 1, 0))
        self.change_points = frozenset(self.rng.sample(range(1, k), points)) if points else frozenset()
        self.decisions = 0
        self.unlocks = 0
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
            if last is not None:
                op = world.events[-1].action.op
                unlocked = False
                if op in _RELEASES:
                    ts = world.tasks[last]
                    if not ts.held and not ts.pc:
                        unlocked = True
                        self.unlocks += 1
                if op in _YIELDS or (self.decisions in self.change_points if self.unit == "decisions"
                                     else unlocked and self.unlocks in self.change_points):
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
        # Unlocks only count at decisions, so an execution where the unlocking
        # task ran alone has few: the estimate is the most any execution made.
        self.counts = {"decisions": self.decisions, "unlocks": max(self.counts["unlocks"], self.unlocks)}
