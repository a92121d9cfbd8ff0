"""One lockdep graph per check (properties/lockdep_global.py), on the zsmalloc model.

The kernel's lockdep keeps one graph per boot: a patch whose two halves take two lock
classes in opposite orders in code paths no single scenario runs together is reported
on a test kernel, and must be by ``zsmc check`` too.  tests/variants/lockdep_global/
holds such patches (README.md there: the table, before -> after) and two lockdep-legal
twins (a trylock, a nested subclass in the reverse order).  Each bug is checked on the
two scenarios that run its halves: each scenario alone passes (the split is real), the
two together report the cycle in lockdep's shape, with a trace that replays.
"""

from __future__ import annotations

import json
import pathlib

import pytest
from click.testing import CliRunner

from cli import main

HERE = pathlib.Path(__file__).parent.parent / "variants" / "lockdep_global"

# file -> (class, the two scenarios that run its halves, configs, the cycle as lockdep prints it)
FOUND = {
    "upstream_async_free_and_malloc_read_lock": (
        "AsyncFreeAndMallocReadLock", ("free-deferred", "malloc-free"), ("default", "rt"),
        "class->lock -> zspage->lock -> class->lock"),
    "v5_async_free_and_malloc_read_lock": (
        "V5AsyncFreeAndMallocReadLock", ("free-deferred", "malloc-free"), ("default", "rt"),
        "class->lock -> zspage->lock -> class->lock"),
    # On RT the copy's local_lock sleeps inside the v5 writer's preempt_disable(): a
    # sleep-in-atomic of its own in up-read-compact (its docstring).
    "v5_compact_copy_local_lock": (
        "CompactCopyLocalLock", ("up-clients", "up-read-compact"), ("default",),
        "class->lock -> zs_map_area.lock -> class->lock"),
    "v5_malloc_scrub_through_area": (
        "MallocScrubThroughArea", ("up-clients", "malloc-free"), ("default", "rt"),
        "zs_map_area.lock -> zspage->lock -> zs_map_area.lock"),
    "legacy_putback_local_lock": (
        "PutbackScrubAreaUnderClassLock", ("up-clients", "migrate-migrate"), ("default", "rt"),
        "class->lock -> zspage->lock -> zs_map_area.lock -> class->lock"),
    "legacy_malloc_publish_write_locked": (
        "MallocPublishWriteLocked", ("up-read-compact", "malloc-free"), ("default", "rt"),
        "zspage->lock -> class->lock -> zspage->lock"),
}
NOT_BUGS = {
    "upstream_async_free_and_malloc_write_trylock": (
        "AsyncFreeAndMallocWriteTrylock", ("free-deferred", "malloc-free"), ("default", "rt")),
    "legacy_malloc_publish_write_locked_nested": (
        "MallocPublishWriteLockedNested", ("up-read-compact", "malloc-free"), ("default", "rt")),
}


def run(*args):
    """``zsmc ARGS`` in this process, stdout and stderr apart (as tests/clirun.py)."""
    try:
        runner = CliRunner(mix_stderr=False)  # click 8.1
    except TypeError:
        runner = CliRunner()
    return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_every_variant_file_is_classified():
    assert {p.stem for p in HERE.glob("*.py")} == set(FOUND) | set(NOT_BUGS)


def _spec(name, cls):
    return f"{HERE / name}.py:{cls}"


def _check(spec, scenarios, config, tmp_path, *extra):
    args = ["check", "--variant", spec, "--cpus", "1", "--config", config, "--format", "json",
            "--out", tmp_path / "out", "--no-minimize", *extra]
    for s in scenarios:
        args += ["--scenario", s]
    res = run(*args)
    return res, json.loads(res.stdout)


def _violations(doc):
    return [(s["name"], v) for s in doc["scenarios"] for v in s["violations"]]


@pytest.mark.parametrize("config", ["default", "rt"])
@pytest.mark.parametrize("name", sorted(FOUND))
def test_the_cycle_across_two_scenarios_is_reported(name, config, tmp_path):
    cls, scenarios, configs, cycle = FOUND[name]
    if config not in configs:
        pytest.skip(f"{name}: not a lockdep report on {config}")
    spec = _spec(name, cls)
    for s in scenarios:         # each half alone is lockdep-clean: the split is real
        res, doc = _check(spec, [s], config, tmp_path)
        # Exit 5: the other half's function never ran here (a scenario runs one half).
        assert res.exit_code in (0, 5) and not _violations(doc), (s, res.exit_code, _violations(doc))
    res, doc = _check(spec, scenarios, config, tmp_path)
    assert res.exit_code == 1
    [(where, v)] = _violations(doc)
    assert where == scenarios[1] and v["property"] == "lock-order"
    head = v["message"].splitlines()[0]
    assert head.startswith("possible circular locking dependency across scenarios")
    assert head.endswith(cycle)
    assert {e["scenario"] for e in v["cycle"]} == set(scenarios)
    assert all(e["config"] == config and e["task"] and e["chain"] for e in v["cycle"])
    # The trace replays each edge's run on its scenario, then the closing one.
    trace = json.loads(pathlib.Path(v["trace"]).read_text())
    assert trace["version"] == 3
    assert {r["program"]["params"]["scenario"] for r in trace["runs"]} == {scenarios[0]}
    assert len(trace["runs"]) == len(v["cycle"]) - 1
    res = run("replay", v["trace"], "--variant", spec)
    assert res.exit_code == 1
    assert f"reproduced after {len(trace['runs'])} earlier run(s)" in res.stdout


@pytest.mark.parametrize("config", ["default", "rt"])
@pytest.mark.parametrize("name", sorted(NOT_BUGS))
def test_a_lockdep_legal_twin_passes(name, config, tmp_path):
    cls, scenarios, _ = NOT_BUGS[name]
    res, doc = _check(_spec(name, cls), scenarios, config, tmp_path)
    assert res.exit_code == 0, [v["message"] for _, v in _violations(doc)]


def test_jobs_2_reports_the_same_cycle(tmp_path):
    cls, scenarios, _, _ = FOUND["upstream_async_free_and_malloc_read_lock"]
    spec = _spec("upstream_async_free_and_malloc_read_lock", cls)
    _, serial = _check(spec, scenarios, "default", tmp_path)
    res, pooled = _check(spec, scenarios, "default", tmp_path, "--jobs", "2")
    assert res.exit_code == 1
    [(_, a)], [(_, b)] = _violations(serial), _violations(pooled)
    assert a["message"] == b["message"] and a["cycle"] == b["cycle"]
    assert [s["executions"] for s in serial["scenarios"]] == [s["executions"] for s in pooled["scenarios"]]


def test_exitfirst_stops_at_the_scenario_that_closes_the_cycle(tmp_path):
    cls, scenarios, _, _ = FOUND["v5_compact_copy_local_lock"]
    res = run("check", "--variant", _spec("v5_compact_copy_local_lock", cls), "--cpus", "1",
              "--scenario", scenarios[0], "--scenario", scenarios[1], "--scenario", "clients",
              "--out", tmp_path, "--no-minimize", "-x")
    assert res.exit_code == 1
    assert "possible circular locking dependency across scenarios" in res.stdout
    assert "not checked: clients (1 CPU)" in res.stdout


# The default set has no cycle across scenarios, with either configuration: the whole check
# of each version passes (tests/test_cli_model.py::test_each_version_passes_completely_at_depth_1,
# tests/model/test_model_rt.py::test_every_default_scenario_is_clean_on_rt_at_depth_1), and a
# check's lock-order feeds one graph per kernel (test_the_cycle_across_two_scenarios_is_reported).
