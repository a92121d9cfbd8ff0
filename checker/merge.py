"""The result of a split search: the union of its subtrees (checker/parallel.py).

Counts: the subtrees of a split by first choices share no trace, so their
executions add up; those of a cut by depth overlap, and their trace keys
(BLAKE2 digests of events and vector clocks) count each trace once, the
repeats going to ``redundant``.  Violations: those of the subtrees, or with
``stop_on_violation`` only those of the first subtree (in plan order) that
found one, as a serial search reports one execution's.  What a monitor with
state across executions finds only in the union of the subtrees (a
lock-order cycle whose edges were seen in two of them) is its own to say:
each subtree exports its state (``Monitor.export_state``), and the
monitor's ``merge`` names the executions to replay, with which monitor, to
report it.
"""

from __future__ import annotations

from .explore import explore
from .result import Result


def merge(build, plan, done, properties, cross=True, first=None, stop_on_violation=False) -> Result:
    """The union of the finished subtrees: distinct traces, deadlocks, violations.

    With ``stop_on_violation`` the violations are those of subtree ``first``
    (the first in plan order that found one), as a serial search stopping at
    its first violation reports one execution's.
    """
    total = Result(scheduler="dpor")
    total.complete = True
    seen = set()
    reasons = []
    traces = set()
    disjoint = 0       # executions of disjoint subtrees (they share no trace: no keys)
    for job in plan:
        if job.index not in done:
            continue
        r, _, keys = done[job.index]
        traces |= keys
        if job.disjoint:
            disjoint += r.executions
        violations = r.violations
        total.absorb(Result(scheduler="dpor", executions=r.executions, redundant=r.redundant,
                            deadlocks=r.deadlocks, pruned=r.pruned, steps=r.steps, outcomes=r.outcomes,
                            max_preemptions=r.max_preemptions, note=r.note,
                            coverage=r.coverage, races=r.races, race=r.race))
        if stop_on_violation and job.index != first:
            violations = []
        for v in violations:
            if (v.property, v.message) not in seen:
                seen.add((v.property, v.message))
                total.violations.append(v)
                total.violation_count += 1
        if not r.complete and r.reason and not (stop_on_violation and r.violations):
            total.complete = False
            reasons.append(r.reason)
    from .stealing import flat_states
    total.states = [s for j in plan if j.index in done for s in flat_states(done[j.index][1])]
    if traces:
        runs = total.executions
        total.executions = len(traces) + disjoint
        total.deadlocks = sum(1 for _, deadlocked in traces if deadlocked) + sum(
            done[j.index][0].deadlocks for j in plan if j.index in done and j.disjoint)
        total.redundant += runs - total.executions
    if cross and not (stop_on_violation and total.violations):
        for v in _cross_subtree_violations(build, plan, done, properties):
            if (v.property, v.message) not in seen:
                seen.add((v.property, v.message))
                total.violations.append(v)
                total.violation_count += 1
                if stop_on_violation:
                    break
    if reasons:
        total.reason = f"{len(reasons)} of {len(plan)} subtrees incomplete: {reasons[0]}"
    if total.violations and stop_on_violation:
        total.complete = False
        total.reason = "stopped at the first violation"
    elif total.violations and total.complete:
        total.reason = ""
    return total


def _cross_subtree_violations(build, plan, done, properties):
    """The violations only the union of the subtrees shows (``Monitor.merge``)."""
    from .stealing import flat_states
    exported = [s for j in plan if j.index in done for s in flat_states(done[j.index][1])]
    if not any(state for states in exported for state in states.values()):
        return []
    from .explore import _build
    from .monitor import select
    from .schedulers.replay import Replay
    out = []
    for m in select(properties, _build(build)).all:
        states = [s[m.name] for s in exported if s.get(m.name) is not None]
        if not any(states):
            continue
        for monitor, schedule in m.merge(states):
            r = explore(build, scheduler=Replay(schedule), properties=[monitor], stop_on_violation=True)
            out.extend(r.violations)
    return out
