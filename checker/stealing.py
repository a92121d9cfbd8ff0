"""Running a dpor search that gives branches away, and a given branch (issue 14).

:class:`~checker.schedulers.steal.StealingDPOR` decides what to give and how
to join it (why the union is the serial search: its docstring).  This module
runs the two sides: :func:`run_stealing` a split search's subtree whose
branches may be stolen, :func:`run_theft` a stolen branch, and joins what
the thieves found into the giver's result.  A *broker* connects them:

* ``asked()``: whether someone wants work (polled between executions);
* ``give(theft)``: hand a :class:`~checker.schedulers.steal.Theft` away (None:
  nothing to give);
* ``join(theft id)``: the thief's :class:`~checker.schedulers.steal.Outcome`,
  waiting for it (doing other work meanwhile, checker/workers.py); None when
  the search is being stopped;
* ``cancel(theft ids)``: their outcomes are no longer wanted.

:class:`InlineBroker` runs each theft when it is joined, in the same thread:
a theft's outcome does not depend on when it runs, so this is the
multi-process search's union, deterministically (the tests use it).
"""

from __future__ import annotations

import contextvars
import copy

from .explore import _build, explore
from .monitor import select, with_engine
from .reductions import Declarations
from .result import Result
from .schedulers.steal import Dropped, Outcome, Poisoned, StealingDPOR, protection_state

# The key, in a subtree's exported monitor states, of its thieves' states (in order).
THEFTS = "~thefts"


def run_stealing(build, prefix, properties, broker, stop_on_violation=False, guards=True, root=(0, 0),
                 **kwargs):
    """Explore the executions that start with ``prefix`` (a split search's
    subtree), giving branches to ``broker``; returns ``(result, exported
    monitor states)`` of the union.  ``kwargs`` go to :func:`explore`."""
    from .budget import SearchInterrupted
    monitors = select(properties, _build(build)).all
    trusted = Declarations()
    sched = StealingDPOR(prefix, guards=guards, broker=broker, trusted=trusted)
    sched.root = root
    try:
        result = explore(build, scheduler=sched, properties=with_engine(properties, monitors),
                         stop_on_violation=stop_on_violation, declarations=trusted, **kwargs)
    except SearchInterrupted as exc:
        _forget(sched)
        exc.result = (combine(exc.result, sched.joined, stop_on_violation), _states(monitors, sched))
        raise
    _forget(sched)
    return combine(result, sched.joined, stop_on_violation), _states(monitors, sched)


def run_theft(build, theft, properties, broker, stop_on_violation=False, **kwargs) -> Outcome:
    """Explore the branch ``theft`` names as the serial search would; what it
    would change above the branch comes back in the outcome, in order."""
    guards, counters, protection, references = theft.decl
    trusted = Declarations()
    trusted.guards, trusted.counters, trusted.references = guards, counters, references
    if protection is not None:
        trusted.protection = copy.deepcopy(protection)
    before = protection_state(trusted.protection)
    runs = trusted.protection.runs
    monitors = select(properties, _build(build)).all
    sched = StealingDPOR(guards=guards, broker=broker, theft=theft, trusted=trusted)
    sched.root = theft.root
    try:
        result = explore(build, scheduler=sched, properties=with_engine(properties, monitors),
                         stop_on_violation=stop_on_violation, declarations=trusted, **kwargs)
    except Dropped:
        _forget(sched)
        return Outcome("dropped")
    except Poisoned:
        _forget(sched)
        return Outcome("poisoned")
    _forget(sched)
    if protection_state(trusted.protection) != before:
        return Outcome("poisoned")
    root = sched.nodes[sched.fixed - 1] if len(sched.nodes) >= sched.fixed else None
    key, fp = (root.key, root.fp) if root is not None else (tuple(sched.prefix[-1]), None)
    if fp is None and result.complete:
        return Outcome("poisoned")      # it never ran its branch: let the giver do it
    states = [_export(monitors)]
    results = [result]
    for out in sched.joined:
        results.extend(out.results)
        states.extend(out.states)
    stopped = stop_on_violation and any(r.violations for r in results)
    return Outcome("done", key, fp, sched.changes, results, states, trusted.protection.runs - runs, stopped)


def combine(result: Result, joined, stop_on_violation) -> Result:
    """The giver's result with those of the thefts it joined (each trace in one of them)."""
    if not joined:
        return result
    total = Result(scheduler=result.scheduler, complete=result.complete, reason=result.reason,
                   elapsed=result.elapsed, seed=result.seed, preemption_bound=result.preemption_bound)
    seen = set()
    for r in [result] + [r for out in joined for r in out.results]:
        violations = r.violations
        r.violations = []
        total.absorb(r)
        r.violations = violations
        for v in violations:
            if (v.property, v.message) not in seen:
                seen.add((v.property, v.message))
                total.violations.append(v)
        if not r.complete and r.reason and not (stop_on_violation and r.violations):
            if total.complete or not total.reason:
                total.reason = r.reason
            total.complete = False
    if stop_on_violation and total.violations:
        total.complete = False
        total.reason = "stopped at the first violation"
    return total


def _states(monitors, sched) -> dict:
    states = _export(monitors)
    thefts = [s for out in sched.joined for s in out.states if s]
    if thefts:
        states[THEFTS] = thefts
    return states


def flat_states(state: dict) -> list:
    """A subtree's exported monitor states, its thieves' after its own."""
    own = {k: v for k, v in state.items() if k != THEFTS}
    return [own] + list(state.get(THEFTS, ()))


def _export(monitors) -> dict:
    return {m.name: state for m in monitors if (state := m.export_state()) is not None}


def _forget(sched) -> None:
    """Thefts given and not joined (the search stopped early) are not waited for."""
    if sched.given and sched.broker is not None:
        sched.broker.cancel([g[0] for g in sched.given.values()])
        sched.given.clear()


class InlineBroker:
    """Gives a branch whenever asked (every ``every`` executions) and explores
    it, in this thread, when it is joined (tests; a theft's outcome does not
    depend on when it runs)."""

    def __init__(self, build, properties=None, stop_on_violation=False, every=1, **kwargs):
        self.args = (build, properties, stop_on_violation, every, kwargs)
        self.every = every
        self.count = 0
        self.pending = {}
        self.thefts = 0
        self.accepted = 0       # outcomes handed back explored (a giver may still discard one)

    def asked(self) -> bool:
        self.count += 1
        return self.count % self.every == 0

    def give(self, theft) -> None:
        if theft is not None:
            self.pending[theft.id] = theft
            self.thefts += 1

    def join(self, tid):
        theft = self.pending.pop(tid)
        build, properties, stop, every, kwargs = self.args
        child = InlineBroker(build, properties, stop, every, **kwargs)
        out = contextvars.Context().run(run_theft, build, theft, properties, child, stop, **kwargs)
        self.thefts += child.thefts
        self.accepted += child.accepted + (out.status == "done")
        return out

    def cancel(self, ids) -> None:
        for tid in ids:
            self.pending.pop(tid, None)


def explore_stealing(build, properties=None, stop_on_violation=False, every=1, **kwargs) -> Result:
    """The whole search of ``build`` with a branch given away every ``every``
    executions and explored at its join (:class:`InlineBroker`), joined as a
    split search joins its subtrees (monitors with state across executions
    included).  The multi-process search's union, deterministically: tests."""
    from .merge import merge
    from .split import Job
    broker = InlineBroker(build, properties, stop_on_violation, every, **kwargs)
    result, states = run_stealing(build, [], properties, broker, stop_on_violation, **kwargs)
    plan = [Job(0, [], disjoint=True)]
    total = merge(build, plan, {0: (result, states, set())}, properties, first=0,
                  stop_on_violation=stop_on_violation)
    total.elapsed = result.elapsed
    total.note = "; ".join(filter(None, [total.note, f"{broker.thefts} thefts given, "
                                                     f"{broker.accepted} explored"]))
    return total
