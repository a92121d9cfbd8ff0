"""model.stateful: zsmalloc as a Hypothesis RuleBasedStateMachine (issue 15, point 1)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import seed as fixed_seed
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from checker import explore
from checker.trace import load_trace, replay
from model.registry import VERSIONS, build_from_params
from model.stateful import TASK, ZsmallocMachine, ZsmcViolation
from model.stateful_program import make_build
from model.stateful_search import reduce_failure, search

QUICK = dict(deadline=None, database=None, suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
             verbosity=Verbosity.quiet)


def run_machine(machine, examples=20, seed=0, shrink=False, **extra):
    phases = [Phase.generate] + ([Phase.shrink] if shrink else [])
    run_state_machine_as_test(fixed_seed(seed)(machine),
                              settings=settings(max_examples=examples, phases=phases, **{**QUICK, **extra}))


def test_it_is_hypothesis_stateful_api():
    assert issubclass(ZsmallocMachine, RuleBasedStateMachine)
    rules = {name for name in dir(ZsmallocMachine)
             if hasattr(getattr(ZsmallocMachine, name), "hypothesis_stateful_rule")}
    assert rules >= {"zs_malloc", "zs_free", "read", "write", "zs_compact", "migrate", "free_work",
                     "step", "nudge", "run"}
    invariants = {name for name in dir(ZsmallocMachine)
                  if hasattr(getattr(ZsmallocMachine, name), "hypothesis_stateful_invariant")}
    assert invariants >= {"properties_hold", "quiescent_checks"}
    assert ZsmallocMachine.TestCase.__name__.endswith("TestCase")


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_a_correct_version_stays_silent(version, tmp_path):
    machine = type("M", (ZsmallocMachine,), {"variant": version, "trace_dir": str(tmp_path)})
    run_machine(machine, examples=25)
    assert not list(tmp_path.iterdir())


def test_a_seeded_bug_fails_and_its_trace_replays(tmp_path):
    machine = type("M", (ZsmallocMachine,), {"mutation": "free-without-page-locks",
                                              "trace_dir": str(tmp_path)})
    with pytest.raises(ZsmcViolation) as info:
        run_machine(machine, examples=100, shrink=True)
    exc = info.value
    assert exc.violation.property == "bug" and type(exc).__name__ == "ZsmcViolation[bug]"
    assert exc.path and f"replay: zsmc replay {exc.path}" in str(exc)
    assert "violation of bug: " in str(exc) and "steps shown" in str(exc)   # the folded trace
    trace = load_trace(exc.path)
    assert trace["program"]["loader"] == "model.registry:build_from_params"
    params = trace["program"]["params"]
    assert params["program"] == "stateful" and params["mutation"] == "free-without-page-locks"
    assert params["script"] and all(ops for ops in params["script"].values())
    out = replay(trace)
    assert out.reproduced, out.message


def test_its_hypothesis_example_is_printed_as_rules(capsys):
    machine = type("M", (ZsmallocMachine,), {"mutation": "sleeping-class-lock", "trace_dir": None})
    with pytest.raises(ZsmcViolation) as info:
        run_machine(machine, examples=50, shrink=True, verbosity=Verbosity.normal)
    out = capsys.readouterr().out + "\n".join(getattr(info.value, "__notes__", []))
    assert "state = M()" in out and "state.start(pool=('large', None))" in out
    assert "state.step(" in out or "state.run(" in out


def test_subclasses_add_rules_and_invariants():
    class Counting(ZsmallocMachine):
        trace_dir = None
        quiet_points = 0
        rereads = 0

        @rule(handle=ZsmallocMachine.handles, on=TASK)
        def reread(self, handle, on):
            """A rule of the subclass: a read of a handle some operation may be using."""
            type(self).rereads += 1

        @invariant()
        def objects_are_whole_when_quiet(self):
            if self.quiescent:
                type(self).quiet_points += 1
                assert not self.pool.integrity_problems()

    run_machine(Counting, examples=20)
    assert Counting.quiet_points > 0 and Counting.rereads > 0


def test_pick_a_variant_by_file(tmp_path):
    f = tmp_path / "patch.py"
    f.write_text("from model import Upstream\n\nclass Patched(Upstream):\n    pass\n")
    machine = type("M", (ZsmallocMachine,), {"variant": f"{f}:Patched", "trace_dir": None})
    run_machine(machine, examples=10)
    assert machine.variant_class().__name__ == "Patched"


def test_the_recorded_program_is_finite():
    """A script fixes every task's operations: an exhaustive search of it ends."""
    build, params = make_build(VERSIONS["upstream"], "read-compact", 2, 1,
                               script={"cpu0.a": [["read:obj", "c0.a"], ["exit", None]],
                                       "cpu1.a": [["zs_compact", None]]})
    r = explore(build, scheduler="dpor")
    assert r.complete and not r.violations and r.executions > 1
    assert build_from_params(json.loads(json.dumps(params)))().specs[0].name == "cpu0.a"


def test_a_bad_script_is_one_line():
    from checker import UsageError
    with pytest.raises(UsageError, match="names task 'cpu9.z'"):
        make_build(VERSIONS["upstream"], "smoke", 1, 1, script={"cpu9.z": []})
    with pytest.raises(UsageError, match="must be \\[operation, argument\\] pairs"):
        make_build(VERSIONS["upstream"], "smoke", 1, 1, script={"cpu0.a": [["dance", None]]})


def test_search_finds_reduces_and_keeps_the_property():
    """The CLI's search: the shrunk failure, without the operations it does not need."""
    from model.registry import variant_for
    cls = variant_for("upstream", "free-without-page-locks")
    result, params, v = search(cls, "large", max_examples=200, database=False)
    assert v is not None and v.property == "bug" and result.violations == [v]
    assert not result.complete and "shrunk by Hypothesis" in result.reason
    ops = [op for ops in params["script"].values() for op in ops]
    assert 1 <= len(ops) <= 3, params["script"]
    again, same = reduce_failure(v, params)
    assert same["script"] == params["script"] and again.step == v.step


def test_search_on_a_correct_version_is_incomplete_not_verified():
    result, params, v = search(VERSIONS["legacy"], "read-compact", max_examples=10, database=False)
    assert v is None and not result.complete and result.reason.startswith("sampled: ")
    assert params["program"] == "stateful" and params["scenario"] == "read-compact"


def _driven(mutation):
    class M(ZsmallocMachine):
        variant, scenario, trace_dir = "upstream", "large", None
        properties = ["no-free-while-mapped"]
    M.mutation = mutation
    m = M()
    m.start(("large", None))
    return m


@pytest.mark.parametrize("mutation", [None, "write-second-half-after-unlock"])
def test_approach_pauses_a_task_before_its_next_page(mutation):
    # A writer of a spanning object paused right before it touches the object's second
    # page; a migration of exactly that page (the candidates put it first) then frees it
    # under the mutated writer, which wrote the second half after its read unlock.
    m = _driven(mutation)
    try:
        m.write("c0.o0", "cpu0.a", "obj")
        m.approach("cpu0.a", 2)
        pending = m.stepper.world.tasks[0].pending
        assert pending.name == "access" and pending.obj.name == "zs1.p1"
        assert m.page_candidates()[0] == "zs1.p1"
        m.migrate("cpu1.a", 0)
        m.run("cpu1.a")
        m.run("cpu0.a")
        if mutation is None:
            # The correct writer holds its read lock: the migration's trylock fails,
            # and nothing is used after a free.
            assert not m.stepper.violations
        else:
            with pytest.raises(ZsmcViolation, match="use after free: cpu0.a writes zs1.p1"):
                m.properties_hold()
    finally:
        m._failed = True
        m.teardown()
