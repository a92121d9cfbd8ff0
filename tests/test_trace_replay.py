"""Exact replay (issue 5): the same violation at the same step, or a one-line reason why not."""

from __future__ import annotations

import copy

import pytest

import checker
from checker.errors import UsageError
from checker.schedulers.replay import Replay, ScheduleDivergence
from checker.trace import make_trace, replay

try:
    from tests import trace_programs as tp
except ImportError:
    import trace_programs as tp

LOST = {"program": "lost-update", "noise": 2}
BANK = {"program": "bank"}


@pytest.fixture(scope="module")
def lost():
    return make_trace(tp.find_violation(LOST, "bug", seeds=range(40)), tp.program(LOST))


@pytest.fixture(scope="module")
def bank():
    return make_trace(tp.find_violation(BANK, tp.NEGATIVE, seeds=range(40)), tp.program(BANK))


@pytest.mark.parametrize("name", ["lost", "bank"])
def test_replay_reproduces_the_same_violation_at_the_same_step(request, name):
    trace = request.getfixturevalue(name)
    out = replay(trace)
    assert out.reproduced
    assert out.violation.property == trace["violation"]["property"]
    assert out.violation.step == trace["violation"]["step"]
    assert out.violation.message == trace["violation"]["message"]
    assert out.message.startswith("reproduced:")
    # The recomputed trace has the same steps, and the world is the replayed execution.
    assert out.trace["events"] == trace["events"]
    assert len(out.world.events) == trace["violation"]["step"] + 1


def test_replay_with_every_property_still_reproduces(bank):
    out = replay(bank, properties="all")
    assert out.reproduced and out.violation.property == tp.NEGATIVE


def test_choices_round_trip_through_json(tmp_path):
    params = {"program": "choices"}
    v = tp.find_violation(params, "bug", seeds=range(100))
    tr = make_trace(v, tp.program(params))
    chosen = [c for _, c in tr["schedule"] if c is not None]
    assert ["map", 2] in chosen  # a tuple option, stored as a JSON list
    from checker.trace import load_trace, save_trace
    out = replay(load_trace(save_trace(tr, str(tmp_path))))
    assert out.reproduced


def test_a_fixed_program_does_not_reproduce(bank):
    fixed = copy.deepcopy(bank)
    fixed["program"]["params"]["initial"] = 500   # enough for both withdrawals
    out = replay(fixed)
    assert not out.reproduced and out.violation is None
    assert "no violation of test-negative-balance" in out.message


def test_a_different_step_is_not_a_reproduction(lost):
    moved = copy.deepcopy(lost)
    moved["violation"]["step"] -= 1      # within the schedule (a step past it is malformed)
    out = replay(moved)
    assert not out.reproduced
    assert f"violated at step {lost['violation']['step']}" in out.message


@pytest.mark.parametrize("edit, message", [
    # Another program behind the same schedule: the tasks differ.
    (lambda t: t["program"]["params"].update(noise=0), "the program's tasks are"),
    # A step whose recorded action is not what the task does now.
    (lambda t: t["events"][3].update(op="free"), "schedule diverges at step 3: task"),
    # A step naming a task that does not exist.
    (lambda t: t["schedule"].__setitem__(0, [9, None]), "schedule diverges at step 0: it names task 9"),
])
def test_divergence_is_a_one_line_usage_error(lost, edit, message):
    bad = copy.deepcopy(lost)
    edit(bad)
    with pytest.raises(ScheduleDivergence) as err:
        replay(bad)
    assert isinstance(err.value, UsageError)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_divergence_when_the_recorded_task_is_not_enabled():
    params = {"program": "lost-update"}
    build = tp.load(params)
    # C spins until both increments are done: it cannot run first (after its label).
    sched = Replay([(2, None), (2, None)])
    with pytest.raises(ScheduleDivergence, match=r"step 1: task C is not enabled \(its next action spin_until"):
        checker.explore(build, scheduler=sched, properties=[])


def test_a_choice_that_is_not_an_option_diverges():
    build = tp.load({"program": "choices"})
    with pytest.raises(ScheduleDivergence, match="chooses among"):
        checker.explore(build, scheduler=Replay([(0, "nothing")]), properties=[])


@pytest.mark.parametrize("program, message", [
    ({"loader": "no_such_module_zsmc:load", "params": {}}, "is not a registered loader"),
    ({"loader": "os:system", "params": {}}, "zsmc imports no module a trace names"),
    ({"loader": "no-colon", "params": {}}, "is not of the form module:function"),
    ({"loader": tp.LOADER, "params": {"program": "nope"}}, "unknown test program 'nope'"),
])
def test_a_program_that_does_not_load_is_a_usage_error(lost, program, message):
    bad = copy.deepcopy(lost)
    bad["program"] = program
    with pytest.raises(UsageError, match=message) as err:
        replay(bad)
    assert "\n" not in str(err.value)


def test_an_unregistered_property_is_a_usage_error(lost):
    bad = copy.deepcopy(lost)
    bad["violation"]["property"] = "no-such-property"
    with pytest.raises(UsageError, match="property 'no-such-property' is not registered"):
        replay(bad)


def test_replay_scheduler_runs_one_execution_and_stops_at_the_end_of_the_schedule():
    build = tp.load({"program": "lost-update"})
    sched = Replay([(0, None), (0, None)])
    res = checker.explore(build, scheduler=sched, properties=[])
    # The two recorded steps ran; the execution was then abandoned, not completed.
    assert res.executions == 0 and res.pruned == 1 and not res.violations
    assert [e.action.name for e in sched.world.events] == ["label", "read"]
    assert sched.status == "pruned" and not sched.new_execution()
    assert res.scheduler == "replay"
