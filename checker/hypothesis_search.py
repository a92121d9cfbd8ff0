"""Hypothesis search: Hypothesis draws the scenario and the schedule, and shrinks a failure.

For pools too large for the exhaustive search.  The caller writes one function,
``build_for_draw(data)``, that draws a scenario with ``data.draw(strategy,
label=...)`` (pool size, operations, tasks, CPUs) and returns the ``build``
function of that scenario.  Each Hypothesis example then runs *one* execution
of it through :func:`checker.explore`, with a scheduler whose every decision is
a Hypothesis draw, so every property is checked at every step exactly as in
the exhaustive search.  A violation fails the example; Hypothesis shrinks the
whole choice sequence (scenario first, since it is drawn first, then the
schedule) and the last, smallest failure is returned as a checker
:class:`~checker.result.Violation`, whose ``schedule`` replays it on the
returned ``build`` (for trace files and the minimiser).

"Simpler" for the schedule: at every decision the enabled steps are offered
with the task that took the last step first, so Hypothesis's shrinking towards
index 0 removes context switches.  A decision with one enabled step draws
nothing.

Failing examples persist in Hypothesis's example database under a key derived
from ``build_for_draw`` (its module and qualified name, or ``key``) and are
replayed first on the next run (Hypothesis's ``reuse`` phase).

Determinism: the scenario and the schedule depend only on the draws, so
Hypothesis's replay and shrinking are exact; ``seed`` fixes the generation.
A ``build`` with hidden randomness is reported as a ModelError (Hypothesis
calls that flaky).  Hypothesis is imported lazily (ARCHITECTURE.md section 1).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from .errors import ModelError, UsageError
from .explore import explore
from .hypothesis_constants import seed_only
from .monitor import Monitor, resolve
from .result import Result, Violation
from .schedulers.base import BaseScheduler
from .schedulers.random import check_count, check_seed, enabled_steps


@dataclass(slots=True)
class SearchOutcome:
    """What :func:`hypothesis_search` returns.

    ``result`` sums the executions of every example Hypothesis ran (shrinking
    included) and is never complete.  ``violation`` is the shrunk failure (also
    ``result.violations[0]``), ``build`` the shrunk scenario's build function
    (``violation.schedule`` replays on it), ``scenario`` the shrunk scenario's
    draws as ``(label, value)`` pairs.  ``first_failure`` is the number of
    examples run when a violation was first seen (1 when the database replayed
    a saved failure).
    """

    result: Result
    violation: Violation | None = None
    build: object = None
    scenario: list = field(default_factory=list)
    examples: int = 0
    first_failure: int | None = None


class _Found(Exception):
    """A violating example; subclassed per property so shrinking keeps the property."""

    def __init__(self, violation, build, scenario):
        super().__init__(str(violation))
        self.violation = violation
        self.build = build
        self.scenario = scenario


_FOUND_BY_PROPERTY: dict = {}


def _found_class(prop: str):
    cls = _FOUND_BY_PROPERTY.get(prop)
    if cls is None:
        cls = _FOUND_BY_PROPERTY[prop] = type(f"Violation[{prop}]", (_Found,), {})
    return cls


class DrawingData:
    """The ``data`` handed to ``build_for_draw``: Hypothesis's, with the draws recorded."""

    __slots__ = ("_data", "drawn")

    def __init__(self, data):
        self._data = data
        self.drawn = []

    def draw(self, strategy, label=None):
        value = self._data.draw(strategy, label=label)
        self.drawn.append((label, value))
        return value


class DrawScheduler(BaseScheduler):
    """One execution whose decisions are drawn from Hypothesis's ``data``.

    Executions longer than ``max_steps`` steps are abandoned as pruned (a
    livelocked scenario must not hang the search).
    """

    name = "hypothesis"
    incomplete_reason = "sampled: one Hypothesis-drawn execution"

    def __init__(self, data, integers, max_steps: int):
        self.data = data
        self.integers = integers      # n -> strategy for an index in [0, n)
        self.max_steps = max_steps
        self.started = False

    def new_execution(self) -> bool:
        if self.started:
            return False
        self.started = True
        return True

    def pick(self, world, enabled):
        events = world.events
        if len(events) >= self.max_steps:
            return False
        if events and len(enabled) > 1:
            last = events[-1].task
            if last in enabled and enabled[0] != last:
                enabled = [last] + [t for t in enabled if t != last]
        steps = enabled_steps(world, enabled)
        if len(steps) == 1:
            return steps[0]
        return steps[self.data.draw(self.integers(len(steps)))]

    def end_execution(self, world, status) -> None:
        pass


def _database(database):
    from hypothesis import settings
    from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase
    if database is None:
        return settings.default.database   # .hypothesis/examples unless a profile says otherwise
    if database is False:
        return None
    if isinstance(database, ExampleDatabase):
        return database
    if isinstance(database, str) or hasattr(database, "__fspath__"):
        return DirectoryBasedExampleDatabase(str(database))
    raise UsageError(f"database must be None, False, a directory or a Hypothesis ExampleDatabase, "
                     f"got {database!r}")


def _key(build_for_draw, key) -> bytes:
    if key is None:
        key = f"{getattr(build_for_draw, '__module__', '')}:" \
              f"{getattr(build_for_draw, '__qualname__', repr(build_for_draw))}"
    return hashlib.sha256(f"zsmc-hypothesis-search:{key}".encode()).digest()


class _BudgetSpent(KeyboardInterrupt):
    """The budget ran out. A KeyboardInterrupt, the one exception Hypothesis lets through
    as it is: not a failure to shrink, not an example to save in its database."""


def hypothesis_search(build_for_draw, max_examples: int = 200, seed: int = 0, properties=None,
                      database=None, max_steps: int = 10_000, shrink: bool = True,
                      key: str | None = None, time_limit: float | None = None,
                      max_executions: int | None = None) -> SearchOutcome:
    """Search scenarios and schedules drawn by Hypothesis for a property violation.

    ``build_for_draw(data)`` draws a scenario with ``data.draw(strategy,
    label=None)`` and returns its ``build`` (a function returning a fresh
    :class:`~checker.program.Program`).  ``max_examples`` bounds the examples
    Hypothesis generates (replay and shrinking come on top).  ``properties``
    are as for :func:`checker.explore`; pass names so each example gets fresh
    monitors.  ``database``: None for Hypothesis's default directory database
    (``.hypothesis/examples``), a directory path, an ``ExampleDatabase``, or
    False for none.  ``shrink=False`` returns the first failure unshrunk.
    ``time_limit`` (seconds) and ``max_executions`` (examples run, every one
    counted until a failure is seen) stop the search before Hypothesis is
    done; the reason says which.  A failure seen is still returned when the
    time limit cuts its shrinking short (the smallest reached so far).
    """
    if not callable(build_for_draw):
        raise UsageError(f"hypothesis_search() needs a function data -> build, got {build_for_draw!r}")
    check_count("max_examples", max_examples, 1)
    check_count("max_steps", max_steps, 1)
    if max_executions is not None:
        check_count("max_executions", max_executions, 1)
    if time_limit is not None and (isinstance(time_limit, bool) or not isinstance(time_limit, (int, float))
                                   or not time_limit > 0):
        raise UsageError(f"time_limit must be a positive number of seconds or None, got {time_limit!r}")
    check_seed(seed)
    if properties is not None:
        single = isinstance(properties, (str, Monitor))
        try:
            for p in [properties] if single else properties:
                resolve(p)
        except TypeError:
            raise UsageError(f"properties must be names or Monitors, got {properties!r}") from None

    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as fixed_seed
    from hypothesis import strategies as st
    from hypothesis.errors import Flaky, Unsatisfiable

    cache = {}

    def integers(n):
        s = cache.get(n)
        if s is None:
            s = cache[n] = st.integers(0, n - 1)
        return s

    total = Result(scheduler="hypothesis", seed=seed)
    out = SearchOutcome(result=total)
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    spent = []          # why the budget ended the search
    last = []           # the last failure seen of the first one's property: (violation, build, draws)

    def example(data):
        if deadline is not None and time.perf_counter() >= deadline:
            spent.append("time")
            raise _BudgetSpent()
        if out.first_failure is None and max_executions is not None and out.examples >= max_executions:
            spent.append("execution")
            raise _BudgetSpent()
        drawing = DrawingData(data)
        build = build_for_draw(drawing)
        if not callable(build):
            raise UsageError(f"build_for_draw must return a build function, got {build!r}")
        left = None if deadline is None else max(deadline - time.perf_counter(), 1e-3)
        res = explore(build, scheduler=DrawScheduler(data, integers, max_steps),
                      properties=properties, stop_on_violation=True, time_limit=left)
        out.examples += 1
        violations = res.violations
        res.violations, res.violation_count = [], 0    # the search keeps only the shrunk one
        total.absorb(res)
        if violations:
            if out.first_failure is None:
                out.first_failure = out.examples
            v = violations[0]
            if not last or last[0][0].property == v.property:
                last[:] = [(v, build, list(drawing.drawn))]
            raise _found_class(v.property)(v, build, list(drawing.drawn))
        if not res.complete and res.reason.startswith("time limit"):
            spent.append("time")         # the deadline passed inside this example's execution
            raise _BudgetSpent()

    phases = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target]
    if shrink:
        phases.append(Phase.shrink)
    test = settings(max_examples=max_examples, database=_database(database), deadline=None,
                    derandomize=False, suppress_health_check=list(HealthCheck),
                    report_multiple_bugs=False, phases=phases, verbosity=Verbosity.quiet,
                    print_blob=False)(fixed_seed(seed)(given(st.data())(example)))
    # Hypothesis's own stateful module keys its database entries the same way.
    test.hypothesis.inner_test._hypothesis_internal_add_digest = _key(build_for_draw, key)
    start = time.perf_counter()
    try:
        with seed_only():
            test()
    except _Found as found:
        out.violation = found.violation
        out.build = found.build
        out.scenario = found.scenario
        total.violations.append(found.violation)
        total.violation_count = 1
        how = "shrunk by Hypothesis" if shrink else "not shrunk"
        total.reason = f"stopped at the first violation, {how} ({out.examples} examples)"
    except Flaky as exc:
        raise ModelError("the same Hypothesis draws gave different executions: build_for_draw or "
                         f"its build has hidden state or randomness ({type(exc).__name__})") from exc
    except Unsatisfiable as exc:
        raise UsageError("Hypothesis could not run a single valid example: the executions are "
                         "probably too long for its choice buffer; draw a smaller scenario") from exc
    except _BudgetSpent:
        if last:
            out.violation, out.build, out.scenario = last[0]
            total.violations.append(out.violation)
            total.violation_count = 1
            total.reason = (f"stopped at the first violation, its shrinking cut short by the time limit "
                            f"({out.examples} examples)")
        elif spent[-1] == "time":
            total.reason = f"time limit of {time_limit:g}s reached after {out.examples} Hypothesis examples"
        else:
            total.reason = f"execution budget of {max_executions} reached after {out.examples} Hypothesis examples"
    except KeyboardInterrupt as exc:     # Ctrl-C, SIGTERM: the examples run so far are reported
        from .budget import SearchInterrupted, signal_of
        total.complete = False
        total.reason = f"interrupted after {out.examples} Hypothesis examples"
        total.elapsed = time.perf_counter() - start
        raise SearchInterrupted(total, signal_of(exc)) from None
    else:
        total.reason = f"sampled: {out.examples} Hypothesis examples"
    total.complete = False
    total.elapsed = time.perf_counter() - start
    return out
