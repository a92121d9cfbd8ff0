"""``zsmc check --scheduler hypothesis``: the state machine run as a search.

:func:`search` runs :class:`model.stateful.ZsmallocMachine` (a subclass set
to the variant, scenario, CPUs and properties asked for) under Hypothesis,
returns a :class:`checker.Result` in the terms of every other search (never
complete: it samples), and on a violation the shrunk failure, whose schedule
replays on the returned params' program (``model.registry:build_from_params``
hands them to :mod:`model.stateful_program`).  Hypothesis's shrinking is
bounded (:data:`SHRINK_SECONDS`); :func:`reduce_failure` then deletes the
operations the failure does not need, one replay each.

On the large-pool family (``--scenario large``) the machine draws the pool as
well: classes 1-3, zspages 2-4, clients 1-4, objects, and 1 or 2 CPUs, so a
failure shrinks to a small pool (:func:`large_family`).

Failing examples persist in Hypothesis's example database, keyed by the
variant, scenario, CPUs and properties, and are replayed first on the next
run.  ``--depth N`` makes each example N times longer (N x
:data:`STEPS_PER_DEPTH` rules).
"""

from __future__ import annotations

import hashlib
import json
import time

from hypothesis import strategies as st

from checker import Result, UsageError
from checker.budget import SearchInterrupted, interrupt_pending, signal_of
from checker.hypothesis_constants import seed_only

STEPS_PER_DEPTH = 100
SHRINK_SECONDS = 20.0


def large_family():
    """Strategy for ``(large:classes=C,zspages=Z,objects=O,tasks=T, cpus)``."""
    from .large import NAME, capacity

    def member(t):
        classes, zspages, tasks, cpus = t
        most = min(tasks + 2, capacity(classes, zspages))
        prefix = f"{NAME}:classes={classes},zspages={zspages}"
        return st.integers(0, most).map(lambda objects: (f"{prefix},objects={objects},tasks={tasks}", cpus))

    return st.tuples(st.integers(1, 3), st.integers(2, 4), st.integers(1, 4),
                     st.integers(1, 2)).flatmap(member)


class BudgetSpent(KeyboardInterrupt):
    """The search's budget ran out (raised in an example). A KeyboardInterrupt, the one
    exception Hypothesis lets through as it is: not a failure to shrink, not an example
    to save in its database, not a draw left unfinished (FlakyStrategyDefinition)."""


class Budget:
    """What :func:`search` may spend: ``deadline`` (``time.perf_counter()``) and
    ``max_examples``, every example Hypothesis runs counted (reuse, shrinking too).

    Until a failure is seen, either ends the search (:class:`BudgetSpent`), at
    the start of an example or after any rule of one; once one is seen, the
    examples spent shrinking it do not count, and the deadline cuts the
    shrinking short (the failure seen last, the smallest so far, is reported).
    """

    def __init__(self, time_limit=None, max_examples=None):
        self.deadline = None if time_limit is None else time.perf_counter() + time_limit
        self.max_examples = max_examples
        self.why = ""           # "time" or "execution" once spent

    def check(self, machine, starting: bool) -> None:
        """Raise :class:`BudgetSpent` if the budget is spent (``starting``: an example is
        about to start, which the execution budget counts)."""
        if (starting and machine.failure is None and self.max_examples is not None
                and machine.examples >= self.max_examples):
            self.why = "execution"
            raise BudgetSpent()
        if self.deadline is not None and time.perf_counter() >= self.deadline:
            self.why = "time"
            raise BudgetSpent()


def machine_for(variant, scenario: str, cpus=None, properties=None, trace_dir=None, budget=None):
    """A :class:`~model.stateful.ZsmallocMachine` subclass checking ``variant`` (a version
    class) on ``scenario`` (``large`` draws the family member); ``budget``, a
    :class:`Budget`, is checked as each example starts and after each rule."""
    from hypothesis.stateful import invariant

    from .large import draws_pool
    from .stateful import ZsmallocMachine, ZsmcViolation
    attrs = {"variant": variant, "scenario": scenario, "cpus": cpus, "properties": properties,
             "trace_dir": trace_dir, "examples": 0, "failure": None}
    if draws_pool(scenario) and cpus is None:
        attrs["pools"] = lambda self: large_family()

    def init(self):
        if budget is not None:
            budget.check(type(self), starting=True)
        ZsmallocMachine.__init__(self)
        type(self).examples += 1

    def fail(self):
        try:
            ZsmallocMachine._fail(self)
        except ZsmcViolation as exc:
            # The last failure of the first one's property: the smallest the shrinking has
            # reached, reported if the budget cuts the shrinking short.
            first = type(self).failure
            if first is None or first[0].property == exc.violation.property:
                type(self).failure = (exc.violation, exc.params)
            raise

    def teardown(self):
        if budget is not None and budget.why:
            # Cut short by the budget: its operations in flight are not run to their end
            # (a failure there would take the place of the budget's exception, in an
            # example Hypothesis saw end sooner: FlakyStrategyDefinition).
            self._failed = True
        ZsmallocMachine.teardown(self)

    attrs["__init__"] = init
    attrs["_fail"] = fail
    attrs["teardown"] = teardown
    if budget is not None:
        attrs["zsmc_budget"] = invariant()(lambda self: budget.check(type(self), starting=False))
    return type(f"{variant.__name__}Machine", (ZsmallocMachine,), attrs)


def search(variant, scenario: str, cpus=None, depth: int = 1, max_examples: int = 200, seed: int = 0,
           properties=None, database=None, shrink_seconds: float | None = SHRINK_SECONDS,
           time_limit: float | None = None, max_executions: int | None = None) -> tuple:
    """``(Result, params, violation or None)``: Hypothesis runs the machine on ``variant``.

    ``params`` are the program's (of the failure when there is one; the
    first example's otherwise).  ``database``: None for Hypothesis's default
    (``.hypothesis/examples``), False for none, else an ``ExampleDatabase``.
    ``shrink_seconds`` bounds Hypothesis's shrinking (the trace is minimised
    afterwards anyway); None lets it shrink as long as it likes.
    ``time_limit`` (seconds) and ``max_executions`` (examples run, every one
    counted) stop the search before Hypothesis is done: the result's reason
    says which (``time limit of ...``, ``execution budget of ...``); a
    failure already seen is still reported, its shrinking cut short.
    """
    from hypothesis import HealthCheck, Phase, Verbosity, settings
    from hypothesis import seed as fixed_seed
    from hypothesis.errors import Flaky
    from hypothesis.stateful import get_state_machine_test

    from .stateful import ZsmcViolation, shrinking_limit
    if not isinstance(max_examples, int) or max_examples < 1:
        raise UsageError(f"max_examples must be a positive integer, got {max_examples!r}")
    if max_executions is not None and (not isinstance(max_executions, int) or isinstance(max_executions, bool)
                                       or max_executions < 1):
        raise UsageError(f"max_executions must be a positive integer or None, got {max_executions!r}")
    if time_limit is not None and (isinstance(time_limit, bool) or not isinstance(time_limit, (int, float))
                                   or not time_limit > 0):
        raise UsageError(f"time_limit must be a positive number of seconds or None, got {time_limit!r}")
    budget = Budget(time_limit, max_executions) if time_limit is not None or max_executions is not None \
        else None
    if time_limit is not None and shrink_seconds is not None:
        shrink_seconds = max(1.0, min(shrink_seconds, time_limit))
    machine = machine_for(variant, scenario, cpus, properties, budget=budget)
    db = settings.default.database if database is None else (database or None)
    test = get_state_machine_test(fixed_seed(seed)(machine), settings=settings(
        max_examples=max_examples, stateful_step_count=STEPS_PER_DEPTH * depth, deadline=None,
        database=db, suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
        verbosity=Verbosity.quiet, print_blob=False))
    key = json.dumps([variant.__module__, variant.__qualname__, scenario, cpus, properties],
                     sort_keys=True, default=str)
    test.hypothesis.inner_test._hypothesis_internal_add_digest = hashlib.sha256(
        f"zsmc-machine:{key}".encode()).digest()
    result = Result(scheduler="hypothesis", seed=seed)
    start = time.perf_counter()
    violation = params = None
    try:
        with shrinking_limit(shrink_seconds), seed_only():
            test()
    except ZsmcViolation as exc:
        violation, params = reduce_failure(exc.violation, exc.params, time_limit=_reduce_seconds(budget))
        result.violations.append(violation)
        result.violation_count = 1
        result.reason = f"stopped at the first violation, shrunk by Hypothesis ({machine.examples} examples)"
    except (BudgetSpent, Flaky) as exc:
        if isinstance(exc, Flaky) and not (budget is not None and budget.why):
            if interrupt_pending() is not None:     # an interrupt cut an example short
                raise _interrupted(result, machine, start, interrupt_pending()) from None
            raise UsageError(f"the same Hypothesis draws gave different executions ({type(exc).__name__}); "
                             "does the variant keep state between executions?") from exc
        # A Flaky once the budget is spent is the budget's doing: the example it cut short
        # ended sooner than the one Hypothesis replayed (seen once in CI, shrinking under a
        # one-second limit on a loaded machine), not a variant that keeps state.
        if machine.failure is not None:
            violation, params = reduce_failure(*machine.failure, time_limit=_reduce_seconds(budget))
            result.violations.append(violation)
            result.violation_count = 1
            result.reason = (f"stopped at the first violation, its shrinking cut short by the time limit "
                             f"({machine.examples} examples)")
        elif budget.why == "time":
            result.reason = (f"time limit of {time_limit:g}s reached after {machine.examples} Hypothesis "
                             "examples of the state machine")
        else:
            result.reason = (f"execution budget of {max_executions} reached after {machine.examples} "
                             "Hypothesis examples of the state machine")
    except KeyboardInterrupt as exc:         # Ctrl-C, SIGTERM: the examples run so far are reported
        raise _interrupted(result, machine, start, signal_of(exc)) from None
    else:
        result.reason = f"sampled: {machine.examples} Hypothesis examples of the state machine"
    result.executions = machine.examples
    result.elapsed = time.perf_counter() - start
    result.complete = False
    if params is None:
        from .stateful_program import make_build
        params = make_build(variant, scenario, cpus, machine.workers)[1]
    return result, params, violation


def _reduce_seconds(budget) -> float:
    """What :func:`reduce_failure` may take: 10 s, at most what the budget has left (1 s at least)."""
    if budget is None or budget.deadline is None:
        return 10.0
    return max(1.0, min(10.0, budget.deadline - time.perf_counter()))


def _interrupted(result, machine, start, signum):
    result.complete = False
    result.executions = machine.examples
    result.reason = f"interrupted after {machine.examples} Hypothesis examples of the state machine"
    result.elapsed = time.perf_counter() - start
    return SearchInterrupted(result, signum)


def reduce_failure(violation, params, time_limit: float = 10.0) -> tuple:
    """``(violation, params)`` with every operation the failure does not need removed.

    Hypothesis shrinks the rules; what is left often still holds operations
    that only ran alongside (an empty free work, an allocation nobody uses).
    This deletes one operation at a time (its steps from the schedule, its
    entry from its task's script) and keeps the deletion when the schedule
    still violates the same property at its last step; until none can go or
    ``time_limit`` seconds have passed.  Each try is one replay.
    """
    from checker.errors import ZsmcError
    from checker.trace import FORMAT, VERSION, replay

    from .stateful_program import LOADER, task_names
    names = [n for n, _ in task_names(params["cpus"], params["workers"])]
    deadline = time.perf_counter() + time_limit
    prop = violation.property

    def attempt(schedule, script):
        p = dict(params, script=script)
        trace = {"format": FORMAT, "version": VERSION, "program": {"loader": LOADER, "params": p},
                 "expect": "violation", "violation": {"property": prop, "step": len(schedule) - 1},
                 "schedule": [list(s) for s in schedule]}
        try:
            out = replay(trace)
        except ZsmcError:        # the schedule or the script no longer fits: keep the operation
            return None
        return out.violation if out.reproduced else None

    schedule = [tuple(s) for s in violation.schedule]
    script = {n: [list(op) for op in ops] for n, ops in params["script"].items()}
    best = violation
    progress = True
    while progress and time.perf_counter() < deadline:
        progress = False
        for name in list(script):
            k = len(script[name]) - 1
            while k >= 0 and time.perf_counter() < deadline:
                cut = _without_op(schedule, names.index(name), script[name], k)
                if cut is not None:
                    fewer = {n: ops[:k] + ops[k + 1:] if n == name else ops for n, ops in script.items()}
                    v = attempt(cut, fewer)
                    if v is not None:
                        schedule, script, best, progress = cut, fewer, v, True
                k -= 1
    return best, dict(params, script={n: ops for n, ops in script.items() if ops})


def _without_op(schedule, task: int, ops: list, k: int):
    """``schedule`` without the steps of task ``task``'s ``k``-th operation (None if the
    schedule cannot be cut there: the operation's start is not where its script says)."""
    starts = []
    want = 0
    for pos, (t, choice) in enumerate(schedule):
        if t == task and want < len(ops) and choice == ops[want][0]:
            starts.append(pos)
            want += 1
    if k >= len(starts):
        return None
    end = starts[k + 1] if k + 1 < len(starts) else len(schedule)
    return [s for pos, s in enumerate(schedule) if not (starts[k] <= pos < end and s[0] == task)]
