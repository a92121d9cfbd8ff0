"""The scheduler contract (checker/schedulers/base.py): a Protocol of three methods,
optional parts with defaults in BaseScheduler, read by explore without probing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from checker import ModelError, Program, Task, UsageError, Var, choose, explore
from checker.schedulers import SCHEDULERS, make_scheduler
from checker.schedulers.base import BaseScheduler, Scheduler, adapt
from checker.schedulers.dfs import DFS

try:
    from tests.test_bounded import broken_guard
except ImportError:
    from test_bounded import broken_guard

ROOT = Path(__file__).resolve().parent.parent


def two_choices():
    x = Var("x", 0)

    def a():
        v = yield choose([1, 2])
        yield x.write(v)

    def b():
        yield x.read()
    return Program([Task(a, "a", cpu=0), Task(b, "b", cpu=1)], cpus=2)


@pytest.mark.parametrize("name", sorted(set(SCHEDULERS) - {"replay", "hypothesis"}))
def test_every_built_in_scheduler_is_a_base_scheduler(name):
    sched = make_scheduler(name)
    assert isinstance(sched, BaseScheduler) and isinstance(sched, Scheduler)
    assert adapt(sched) is sched


def test_the_other_schedulers_of_the_engine_are_base_schedulers_too():
    from checker.hypothesis_search import DrawScheduler
    from checker.schedulers.replay import Replay
    from checker.stepper import _Bridge
    for cls in (Replay, DrawScheduler, _Bridge):
        assert issubclass(cls, BaseScheduler), cls


class ThreeMethods:
    """A scheduler written against the three methods alone: every interleaving, via DFS."""

    def __init__(self):
        self.dfs = DFS()
        self.ended = []

    def new_execution(self):
        return self.dfs.new_execution()

    def pick(self, world, enabled):
        return self.dfs.pick(world, enabled)

    def end_execution(self, world, status):
        self.ended.append(status)
        self.dfs.end_execution(world, status)


def test_a_three_method_scheduler_gets_the_defaults():
    mine = ThreeMethods()
    r = explore(two_choices, scheduler=mine, properties=[])
    want = explore(two_choices, scheduler="dfs", properties=[])
    assert r.complete and r.executions == want.executions == len(mine.ended)
    assert r.scheduler == "ThreeMethods" and r.seed == 0 and r.bound_cut == 0


def test_a_three_method_scheduler_is_read_when_the_search_ends():
    class Changing(ThreeMethods):
        name = "changing"

        def end_execution(self, world, status):
            super().end_execution(world, status)
            self.cut = len(self.ended)
            self.incomplete_reason = "sampled by hand"
    r = explore(two_choices, scheduler=Changing(), properties=[])
    assert r.scheduler == "changing" and r.bound_cut == r.executions
    assert not r.complete and r.reason == "sampled by hand"


def test_a_scheduler_that_cannot_reset_is_named_on_a_broken_guard():
    class Macro(ThreeMethods):
        macro = True        # asks for the guarded-sections reduction, which breaks
    with pytest.raises(ModelError, match="cannot start again without the reduction"):
        explore(broken_guard, scheduler=Macro(), properties=[])

    class Resettable(Macro):
        def reset(self):
            self.__init__()
            self.macro = False
    r = explore(broken_guard, scheduler=Resettable(), properties=[])
    assert r.complete and "guarded sections not reduced" in r.note


def test_something_else_is_not_a_scheduler():
    with pytest.raises(UsageError, match="must be a name or a Scheduler"):
        explore(two_choices, scheduler=object())


def test_explore_reads_the_contract_without_probing():
    tree = ast.parse((ROOT / "checker" / "explore.py").read_text())
    probes = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call)
              and isinstance(n.func, ast.Name) and n.func.id in ("getattr", "hasattr")
              and n.args and isinstance(n.args[0], ast.Name) and n.args[0].id in ("sched", "scheduler")]
    assert not probes, f"checker/explore.py probes the scheduler at lines {probes}"
