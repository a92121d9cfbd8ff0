"""Minimisation (issue 5): causal slice, z3's simplest ordering, and the fewest preemptions.

"Simpler" is fewer preemptions, then fewer context switches, then fewer steps.
The z3 objective must count preemptions exactly as the engine does
(``World.would_preempt``, the rule of the preemption bound): that is checked
on random orderings, then the minimiser is checked against the smallest
preemption bound at which the search finds each bug.
"""

from __future__ import annotations

import copy
import random
import time

import pytest

import checker
from checker.dependence import direct_dependences, happens_before
from checker.errors import UsageError
from checker.minimize import minimize_trace
from checker.ordering import Ordering
from checker.schedulers.replay import Replay
from checker.trace import counts, events_json, make_trace, replay

try:
    from tests import trace_programs as tp
except ImportError:
    import trace_programs as tp

import z3  # noqa: F401,E402  (a dependency of zsmc: missing is a failure)


def _trace(params, prop="bug", seeds=range(300)):
    v = tp.find_violation(params, prop, seeds=seeds)
    assert v is not None, f"no violation of {prop} in {params}"
    return make_trace(v, tp.program(params))


def _fewest_preemptions(params, prop):
    """The smallest preemption bound at which an exhaustive search finds the bug."""
    build = tp.load(params)
    props = [] if prop == "bug" else [prop]
    for k in range(6):
        res = checker.explore(build, scheduler="dfs", properties=props, preemption_bound=k)
        if any(v.property == prop for v in res.violations):
            return k
        assert res.complete
    raise AssertionError("no violation within 5 preemptions")


@pytest.mark.parametrize("params, prop", [
    ({"program": "lost-update", "noise": 3}, "bug"),
    ({"program": "lost-update", "same_cpu": False, "noise": 2}, "bug"),
    ({"program": "bank"}, tp.NEGATIVE),
    ({"program": "choices"}, "bug"),
])
def test_minimised_preemptions_equal_the_smallest_bound_that_finds_the_bug(params, prop):
    trace = _trace(params, prop)
    small, rep = minimize_trace(trace, time_limit=20)
    k = _fewest_preemptions(params, prop)
    assert rep.after_preemptions == small["stats"]["preemptions"] == k
    assert rep.fewest_preemptions is True and rep.optimal is True
    assert rep.before_preemptions == trace["stats"]["preemptions"] >= k
    # Returned only after a replay reproduced it.
    out = replay(small)
    assert out.reproduced and out.violation.property == prop


def test_noise_is_sliced_away_and_counts_only_go_down():
    trace = _trace({"program": "lost-update", "noise": 4})
    assert any(e["name"] == "N" and e["op"] == "write" for e in trace["events"])
    small, rep = minimize_trace(trace, time_limit=20, search=False)
    names = {e["name"] for e in small["events"]}
    assert "N" not in names            # the unrelated task does not happen before the bug
    assert rep.after_steps < rep.before_steps
    assert (rep.after_preemptions, rep.after_context_switches) <= (rep.before_preemptions,
                                                                    rep.before_context_switches)
    assert rep.optimal and "slice kept" in rep.message
    assert small["meta"]["minimized"]["after"] == small["stats"]
    assert small["expect"] == trace["expect"] and small["program"] == trace["program"]


def test_slice_is_the_causal_past_of_the_violating_step():
    params = {"program": "lost-update", "noise": 2}
    out = replay(_trace(params))
    world, n = out.world, out.violation.step + 1
    deps = direct_dependences(world.events[:n], len(world.tasks), invisible=True)
    past = happens_before(deps)[n - 1]
    for i in range(n - 1):
        e = world.events[i]
        name = world.tasks[e.task].name
        if name == "N":
            assert not past >> i & 1, f"noise step {i} is not in the causal past"
        if name == "C":
            assert past >> i & 1, "the violating task's own steps happen before"
    # The dependence relation is respected by the recorded order.
    assert all(i < j for j, d in enumerate(deps) for i in d)


def _topological(deps, rng):
    indeg = [len(d) for d in deps]
    succ = [[] for _ in deps]
    for j, d in enumerate(deps):
        for i in d:
            succ[i].append(j)
    ready = [j for j, k in enumerate(indeg) if k == 0]
    out = []
    while ready:
        j = ready.pop(rng.randrange(len(ready)))
        out.append(j)
        for k in succ[j]:
            indeg[k] -= 1
            if indeg[k] == 0:
                ready.append(k)
    return out


class _Keep(tp.RandomWalk):
    def end_execution(self, world, status):
        self.world = world


@pytest.mark.parametrize("params", [{"program": "locks"}, {"program": "scaled", "ntasks": 3, "rounds": 3}])
def test_z3_objective_counts_preemptions_as_the_engine_does(params):
    """Every case of the rule: sleep, cond_resched, waiting for a mutex, atomic owners, finished tasks."""
    build = tp.load(params)
    checked = 0
    for seed in range(8):
        walk = _Keep(seed)
        checker.explore(build, scheduler=walk, properties=[])
        world = walk.world
        n = len(world.events)
        deps = direct_dependences(world.events[:n], len(world.tasks), invisible=True)
        model = Ordering(world, list(range(n)), deps, happens_before(deps))
        rng = random.Random(seed)
        for _ in range(4):
            order = _topological(deps, rng)
            z3_counts = model.evaluate(order)
            again = Replay([(world.events[i].task, world.events[i].choice) for i in order])
            checker.explore(build, scheduler=again, properties=[])
            if len(again.world.events) != n:   # a bug ended this ordering early
                continue
            engine = (sum(again.preempts), counts(events_json(again.world))["context_switches"])
            assert z3_counts == engine, (seed, order)
            checked += 1
    assert checked >= 20


def test_the_ordering_is_optimal_on_a_program_with_every_kind_of_switch():
    trace = _trace({"program": "locks"})
    small, rep = minimize_trace(trace, time_limit=20, search=False)
    assert rep.optimal
    assert rep.after_preemptions < rep.before_preemptions
    # Reordering the same steps cannot beat the fewest preemptions of any
    # violating execution (B must be preempted once for A to enter its section).
    assert rep.after_preemptions >= 1
    assert replay(small).reproduced


def test_time_limit_is_respected_and_the_best_ordering_is_returned():
    params = {"program": "scaled", "ntasks": 6, "rounds": 6, "cpus": 2}
    trace = _trace(params, seeds=range(2))
    # CPU time, not wall time: a loaded machine (the suite runs on every core)
    # stretches the wall time of building the z3 model and replaying, not the
    # CPU a search that ignored its limit would burn.
    start = time.process_time()
    small, rep = minimize_trace(trace, time_limit=2.0, search=False)
    took = time.process_time() - start
    assert took < 6.0, took   # the limit, plus building the z3 model and replaying
    assert replay(small).reproduced
    assert (rep.after_preemptions, rep.after_context_switches) < (rep.before_preemptions,
                                                                  rep.before_context_switches)
    if not rep.optimal:
        assert "time limit" in rep.message


def test_a_deadlock_keeps_every_task_up_to_its_last_step():
    import properties.deadlock  # noqa: F401
    params = {"program": "abba", "noise": 3}
    trace = _trace(params, "deadlock")
    small, rep = minimize_trace(trace, time_limit=20)
    out = replay(small)
    assert out.reproduced and out.violation.property == "deadlock"
    # The noise task finished in the original execution: it must finish here too,
    # or it could still run and there would be no deadlock.
    assert sum(1 for e in small["events"] if e["name"] == "N") == 4
    assert rep.after_preemptions == _fewest_preemptions(params, "deadlock") == 0
    assert rep.before_preemptions > 0


def test_z3_out_of_time_still_returns_a_valid_ordering():
    params = {"program": "scaled", "ntasks": 6, "rounds": 6, "cpus": 2}
    out = replay(_trace(params, seeds=range(2)))
    world, n = out.world, out.violation.step + 1
    deps = direct_dependences(world.events[:n], len(world.tasks), invisible=True)
    model = Ordering(world, list(range(n)), deps, happens_before(deps))
    seq, objective, proved = model.solve(0.02)
    assert sorted(seq) == list(range(n))
    where = {e: k for k, e in enumerate(seq)}
    assert all(where[i] < where[j] for j in range(n) for i in deps[j])
    assert objective == model.evaluate(seq)
    assert objective <= model.evaluate(list(range(n)))   # no worse than the recorded order
    assert not proved


def test_a_trace_that_does_not_reproduce_is_refused():
    trace = _trace({"program": "bank"}, tp.NEGATIVE)
    fixed = copy.deepcopy(trace)
    fixed["program"]["params"]["initial"] = 500
    with pytest.raises(UsageError, match="cannot minimise: the trace does not reproduce"):
        minimize_trace(fixed)
    with pytest.raises(UsageError, match="time_limit must be a positive number"):
        minimize_trace(trace, time_limit=0)
