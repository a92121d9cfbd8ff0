"""How ``zsmc check`` searches a scenario: one strategy per kind of search, in one table.

The plan picks the kind once (:func:`search_for`, from the scheduler, the
preemption bound and the split options); :data:`STRATEGIES` maps it to a
:class:`Strategy`, whose one method ``run(build, budget, progress)`` explores
one build within what the check's budget has left and returns the
:class:`~checker.result.Result` with the params of the program it is about
(the build's own, but for a search that draws its program: then the drawn
one's, so that the trace replays it).  The pooled search runs every build at
once instead (:meth:`Pooled.run_all`).

=============  ==============================================================
exhaustive     ``dfs``: every interleaving, within a preemption bound K if given
bounded        ``dpor`` within a preemption bound K (trace states, cheapest first)
auto-bound     ``--preemption-bound auto``: K = 0, 1, 2, ... (dpor or dfs)
split          ``dpor`` without a bound: its subtrees, serial or on ``--jobs``,
               ``--dask``, ``--checkpoint``/``--resume`` (the same subtrees in the
               same order either way, so ``--jobs N`` reports the serial counts)
pooled         ``split`` over several scenarios with ``--jobs N``: every
               scenario's subtrees on one pool of processes
sampled        ``random``, ``pct`` (never complete)
hypothesis     the model's state machine under Hypothesis, or Hypothesis drawing
               the schedules of a registry without one (never complete)
=============  ==============================================================
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from checker.budget import SearchInterrupted


def search_for(scheduler, preemption_bound, jobs, dask, checkpoint, resume, builds: int) -> str:
    """The kind of search (a key of :data:`STRATEGIES`) of a validated set of options."""
    if scheduler == "hypothesis":
        return "hypothesis"
    if scheduler in ("random", "pct"):
        return "sampled"
    if scheduler == "dpor" and preemption_bound is None:
        pooled = jobs > 1 and dask is None and not (checkpoint or resume) and builds > 1
        return "pooled" if pooled else "split"
    if preemption_bound == "auto":
        return "auto-bound"
    if scheduler == "dpor":
        return "bounded"
    return "exhaustive"


@dataclass(frozen=True, slots=True)
class Budget:
    """The check's budgets: one wall-clock deadline for the whole check (``--time-limit``,
    the split search and every scenario included) and an execution budget per scenario."""

    time_limit: float | None          # the user's, in seconds; None: no limit
    deadline: float | None            # invariant: None iff time_limit is None (time.monotonic)
    max_executions: int | None

    @classmethod
    def start(cls, time_limit, max_executions, started=None) -> Budget:
        """``started``: when the check began (time.monotonic; default now): the limit is
        one budget from there, the variant's loading included."""
        start = time.monotonic() if started is None else started
        deadline = None if time_limit is None else start + time_limit
        return cls(time_limit, deadline, max_executions)

    def left(self) -> float | None:
        """Seconds left (None: no limit); a search reads it once, when it starts."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    def name_time_limit(self, result) -> None:
        """A search saw only what was left of the budget; its reason names the one the user gave."""
        if not result.complete and result.reason.startswith("time limit of"):
            rest = result.reason.split(" reached", 1)[1] if " reached" in result.reason else ""
            result.reason = f"time limit of {self.time_limit:g}s reached{rest}"


class Strategy:
    """One kind of search, set up by the plan: :meth:`run` explores one build.

    A subclass writes :meth:`explore`; ``run`` gives it the seconds left (a
    scenario reached after the deadline is not started) and names the user's
    time limit in the result.  A ``pooled`` strategy also explores every build
    at once (``run_all``).
    """

    pooled = False

    def __init__(self, plan):
        self.plan = plan

    def run(self, build, budget: Budget, progress) -> tuple:
        """``(Result, params)`` of ``build`` (a :class:`cli.plan.Build`) within ``budget``;
        ``progress``: an ``on_progress`` callable for the engine, or None."""
        from checker.result import Result
        left = budget.left()
        if left is not None and left <= 0:
            reason = f"time limit of {budget.time_limit:g}s reached before it started"
            return Result(scheduler=self.plan.scheduler, reason=reason), build.params
        limits = {"properties": self.plan.props, "max_executions": budget.max_executions, "time_limit": left,
                  "on_progress": progress}
        result, params = self.explore(build, limits)
        budget.name_time_limit(result)
        return result, params

    def explore(self, build, limits: dict) -> tuple:
        """``(Result, params)``; ``limits``: properties, max_executions, time_limit, on_progress."""
        raise NotImplementedError


class Exhaustive(Strategy):
    """``dfs``: every interleaving, no reduction (within the preemption bound, if any)."""

    def explore(self, build, limits):
        from checker import explore
        p = self.plan
        return explore(build.build, scheduler=p.scheduler, preemption_bound=p.preemption_bound, seed=p.seed,
                       max_steps=p.max_steps, **limits), build.params


class Bounded(Strategy):
    """``dpor`` within a preemption bound K: the exact bounded search (checker.bounded)."""

    def explore(self, build, limits):
        from checker.bounded import explore_within_bound
        p = self.plan
        return explore_within_bound(build.build, p.preemption_bound, seed=p.seed, max_steps=p.max_steps,
                                    **limits), build.params


class AutoBound(Strategy):
    """``--preemption-bound auto``: the first violation with the fewest preemptions."""

    def explore(self, build, limits):
        from checker.bounded import explore_auto_bound
        p = self.plan
        return explore_auto_bound(build.build, scheduler=p.scheduler, seed=p.seed, max_steps=p.max_steps,
                                  **limits), build.params


class Split(Strategy):
    """``dpor`` without a bound, as subtrees (checker.parallel): serial, or on processes,
    a Dask cluster, with a checkpoint."""

    def explore(self, build, limits):
        from checker.parallel import explore_split
        p = self.plan
        # Dask workers rebuild the program of the user's own check: its variant file is trusted.
        own = {"loader": p.reg.OWN_LOADER, "params": build.params} if p.dask else None
        return explore_split(build.build, jobs=p.jobs, dask=p.dask, program=own,
                             checkpoint=p.checkpoint, resume=p.resume, key=build.params,
                             stop_on_violation=True, max_steps=p.max_steps, **limits), build.params


class Pooled(Split):
    """``--jobs N`` over several scenarios: every scenario's subtrees on one pool."""

    pooled = True
    # Weighing the scenarios (their executions at depth 1, up to WEIGH_EXECUTIONS) may take
    # at most this share of the time the check has left: the rest is the search's.
    WEIGH_SHARE = 0.1
    WEIGH_EXECUTIONS = 10_000

    def __init__(self, plan):
        super().__init__(plan)
        self.weights = {}       # a scenario's params but its depth -> its weight (one per check)

    def weigh(self, builds, budget: Budget) -> list:
        """Each build's weight: its scenario's executions at depth 1, a cheap estimate of
        its size, weighed once per check (the passes at depth 1, 2, ... share them) and
        within :data:`WEIGH_SHARE` of the time left (a scenario not weighed by then
        weighs 0: its subtrees go last)."""
        from checker import explore
        p = self.plan
        left = budget.left()
        until = None if left is None else time.monotonic() + max(left, 0) * self.WEIGH_SHARE
        weights = []
        for b in builds:
            key = json.dumps({k: v for k, v in b.params.items() if k != "depth"}, sort_keys=True, default=repr)
            if key not in self.weights:
                limit = None if until is None else until - time.monotonic()
                if limit is not None and limit <= 0:
                    weights.append(0)
                    continue
                small, _ = p.reg.make_build(p.cls, b.name, 1, b.params.get("cpus", p.cpus), **p.kw_of(b.params))
                r = explore(small, scheduler="dpor", properties=[], max_executions=self.WEIGH_EXECUTIONS,
                            time_limit=limit)
                if not r.complete and r.reason.startswith("time limit"):
                    weights.append(r.executions)        # a lower bound: weighed again next time
                    continue
                self.weights[key] = r.executions
            weights.append(self.weights[key])
        return weights

    def run_all(self, builds, budget: Budget, progress) -> dict:
        """``{index in builds: Result}``, the scenarios that are largest at depth 1
        first (a cheap estimate of their size, :meth:`weigh`)."""
        from checker.parallel import explore_split_many
        p = self.plan
        weights = self.weigh(builds, budget)
        indices = list(range(len(builds)))
        try:
            results = explore_split_many([b.build for b in builds], jobs=p.jobs, properties=p.props,
                                         time_limit=budget.left(), max_executions=budget.max_executions,
                                         weights=weights, stop_on_violation=True, max_steps=p.max_steps,
                                         on_progress=progress)
        except SearchInterrupted as exc:
            exc.result = dict(zip(indices, exc.result))
            raise
        out = dict(zip(indices, results))
        for r in out.values():
            budget.name_time_limit(r)
        return out


class Sampled(Strategy):
    """``random`` and ``pct``: seeded samples (1000 and 5000 executions by default), never complete."""

    def explore(self, build, limits):
        from checker import explore
        from checker.schedulers import make_scheduler
        p = self.plan
        sched = make_scheduler(p.scheduler, preemption_bound=p.preemption_bound, seed=p.seed,
                               executions=p.executions, depth=p.pct_depth)
        result = explore(build.build, scheduler=sched, seed=p.seed, max_steps=p.max_steps, **limits)
        return result, build.params


class HypothesisSearch(Strategy):
    """The Hypothesis search: the registry's ``stateful_search`` (zsmalloc's: the state
    machine of model/stateful.py, which on a scenario that draws its pool, ``large``,
    draws the pool and the CPUs too), else Hypothesis drawing each schedule of the
    scenario (checker.hypothesis_search).  Returns the params of the failing program."""

    def explore(self, build, limits):
        p = self.plan
        examples = p.executions or 200
        machine = getattr(p.reg, "stateful_search", None)
        budget = {"time_limit": limits["time_limit"], "max_executions": limits["max_executions"]}
        if machine is not None:
            result, drawn, _ = machine(p.cls, build.name, cpus=build.params["cpus"], depth=p.depth,
                                       max_examples=examples, seed=p.seed, properties=p.props, **budget)
            return result, drawn
        from checker.hypothesis_search import hypothesis_search

        def for_draw(data):
            return build.build
        out = hypothesis_search(for_draw, max_examples=examples, seed=p.seed, properties=p.props,
                                key=json.dumps(build.params, sort_keys=True), **budget)
        return out.result, build.params


STRATEGIES = {
    "exhaustive": Exhaustive,
    "bounded": Bounded,
    "auto-bound": AutoBound,
    "split": Split,
    "pooled": Pooled,
    "sampled": Sampled,
    "hypothesis": HypothesisSearch,
}
