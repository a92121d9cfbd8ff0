"""How the state machine fails and is run as a test: its failure exception (one class per
property, so that Hypothesis tells two properties' failures apart), the bounded
shrinking, and ``Machine.TestCase`` (:mod:`model.stateful`).
"""

from __future__ import annotations

import contextlib
import unittest

from hypothesis import HealthCheck, settings
from hypothesis.control import current_build_context
from hypothesis.errors import InvalidArgument
from hypothesis.stateful import run_state_machine_as_test

from checker.hypothesis_constants import seed_only


class ZsmcViolation(AssertionError):
    """A property violated by the machine's execution (subclassed per property, so that
    Hypothesis tells two properties' failures apart).  ``violation`` is the
    :class:`checker.Violation` (its schedule replays on ``params``' program);
    ``path`` the trace file written for the final failure, if any."""

    def __init__(self, violation, params, path=None, text=None):
        self.violation = violation
        self.params = params
        self.path = path
        msg = text or str(violation)
        if path:
            msg += f"\ntrace: {path}\nreplay: zsmc replay {path}"
        super().__init__(msg)


_BY_PROPERTY: dict = {}


def failure_class(prop: str) -> type:
    cls = _BY_PROPERTY.get(prop)
    if cls is None:
        cls = _BY_PROPERTY[prop] = type(f"ZsmcViolation[{prop}]", (ZsmcViolation,), {})
    return cls


def is_final_run() -> bool:
    """Whether this is the run Hypothesis reports (the final one, or none at all)."""
    try:
        return current_build_context().is_final
    except InvalidArgument:         # driven by hand, outside a Hypothesis test
        return True


@contextlib.contextmanager
def shrinking_limit(seconds):
    """Hypothesis shrinks a failure for up to 5 minutes and has no setting for it; the
    machine's examples are long, so its engine's module constant is set to ``seconds``
    while the test runs, and put back.  (If a Hypothesis release moves it, shrinking
    takes Hypothesis's own limit, no more.)"""
    from hypothesis.internal.conjecture import engine
    old = getattr(engine, "MAX_SHRINKING_SECONDS", None)
    if seconds is None or old is None:
        yield
        return
    engine.MAX_SHRINKING_SECONDS = seconds
    try:
        yield
    finally:
        engine.MAX_SHRINKING_SECONDS = old


class TestCaseProperty:
    """``Machine.TestCase``, as Hypothesis's, with shrinking bounded by the machine's
    ``shrink_seconds`` (assign ``Machine.TestCase.settings`` to change the settings)."""

    def __get__(self, obj, typ=None):
        if obj is not None:
            typ = type(obj)
        case = typ.__dict__.get("_zsmc_test_case")
        if case is None:
            class StateMachineTestCase(unittest.TestCase):
                settings = settings(deadline=None, suppress_health_check=list(HealthCheck))

                def runTest(self):
                    with shrinking_limit(typ.shrink_seconds), seed_only():
                        run_state_machine_as_test(typ, settings=self.settings)

                runTest.is_hypothesis_test = True
                runTest._hypothesis_state_machine_class = typ

            StateMachineTestCase.__name__ = typ.__name__ + ".TestCase"
            StateMachineTestCase.__qualname__ = typ.__qualname__ + ".TestCase"
            StateMachineTestCase.__module__ = typ.__module__
            type.__setattr__(typ, "_zsmc_test_case", StateMachineTestCase)
            case = StateMachineTestCase
        return case
