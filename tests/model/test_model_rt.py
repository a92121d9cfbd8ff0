"""The three versions on a PREEMPT_RT kernel (checker.config; docs/model.md "PREEMPT_RT").

On RT spinlock_t, rwlock_t and local_lock_t sleep; explicit preempt_disable
stays.  The finding recorded in docs/model.md: every default scenario of every
version is clean at depth 1 on RT, on each of its CPU counts; the catalogue's
RT bug (#26) is found only on RT (tests/model/test_model_mutations.py).
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from checker import explore
from cli import main
from model.registry import SCENARIOS, VERSIONS, cpu_counts, make_build

DEFAULT = sorted(n for n, s in SCENARIOS.items() if s.default)


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_every_default_scenario_is_clean_on_rt_at_depth_1(version, tmp_path):
    # The whole check, as a user runs it: every property, and lockdep's one graph over
    # every scenario (a cycle closed across two scenarios fails it too; the default
    # configuration's run is tests/test_cli_model.py::test_each_version_passes_...).
    res = CliRunner().invoke(main, ["check", "--variant", version, "--config", "rt", "--format",
                                    "json", "--out", str(tmp_path)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["status"] == "pass" and doc["violations"] == 0
    assert sorted((s["name"], s["params"]["cpus"]) for s in doc["scenarios"]) == sorted(
        (n, c) for n in DEFAULT for c in cpu_counts(n))
    assert all(s["complete"] and s["params"]["config"] == "rt" for s in doc["scenarios"])


def test_rt_changes_the_executions_and_the_params_say_so():
    build, params = make_build(VERSIONS["upstream"], "read-compact", 1, 1, config="rt")
    _, plain = make_build(VERSIONS["upstream"], "read-compact", 1, 1)
    assert params["config"] == "rt" and "config" not in plain
    rt = explore(build)
    default = explore(make_build(VERSIONS["upstream"], "read-compact", 1, 1)[0])
    # On one CPU a !RT writer's section is one atomic block; on RT it is preemptible.
    assert rt.executions > default.executions


def test_a_trace_of_an_rt_run_replays_on_rt():
    import json

    from checker.trace import dumps, make_trace, replay
    from model.registry import variant_for
    build, params = make_build(variant_for("v5", "rt-lock-in-preempt-disabled"), "malloc-free", 1,
                               config="rt")
    [v] = explore(build).violations
    trace = json.loads(dumps(make_trace(v, {"loader": "model.registry:build_from_params",
                                            "params": params})))
    assert trace["program"]["params"]["config"] == "rt"
    out = replay(trace)
    assert out.reproduced and out.violation.property == "sleep-in-atomic"
    # The same schedule on a !RT kernel is not that execution.
    del trace["program"]["params"]["config"]
    try:
        assert not replay(trace).reproduced
    except Exception as exc:        # a diverging schedule is a UsageError: also "not reproduced"
        assert "diverge" in str(exc) or "schedule" in str(exc), exc
