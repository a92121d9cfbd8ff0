"""zsmc check --memory-model (checker.memory_model), end to end."""

from __future__ import annotations

import json

from clirun import check_trace_replays, run


def test_the_ordering_mutation_is_checked_under_ra_by_default_and_silent_under_sc(tmp_path):
    res = run("check", "--mutation", "relaxed-zspage-lock", "--scenario", "write-migrate",
              "--out", tmp_path)
    assert res.exit_code == 1, res.stdout
    assert "memory model ra, scheduler dpor" in res.stdout.splitlines()[0]
    assert "violation of data-race" in res.stdout
    assert "note: memory model ra: one serial dpor search" in res.stdout
    check_trace_replays(tmp_path, "memory_model", "ra", "--memory-model", "data-race")
    quiet = run("check", "--mutation", "relaxed-zspage-lock", "--scenario", "write-migrate",
                "--memory-model", "sc", "--out", tmp_path)
    assert quiet.exit_code == 0, quiet.stdout
    assert "memory model" not in quiet.stdout


def test_the_mutation_is_listed_as_one():
    res = run("list", "mutations")
    [line] = [ln for ln in res.stdout.splitlines() if ln.startswith("relaxed-zspage-lock")]
    assert "data-race" in line and "not expressible" not in line


def test_the_json_report_names_the_memory_model_only_when_weak(tmp_path):
    ra = json.loads(run("check", "--memory-model", "ra", "--scenario", "write-migrate",
                        "--format", "json", "--out", tmp_path).stdout)
    plain = json.loads(run("check", "--scenario", "smoke", "--format", "json", "--out", tmp_path).stdout)
    assert ra["memory_model"] == "ra" and "memory_model" not in plain


def test_v5_is_verified_under_ra_and_a_budget_is_incomplete(tmp_path):
    res = run("check", "--variant", "v5", "--memory-model", "ra", "--scenario", "write-migrate",
              "--out", tmp_path)
    assert res.exit_code == 0 and "complete" in res.stdout, res.stdout
    res = run("check", "--variant", "v5", "--memory-model", "ra", "--scenario", "write-migrate",
              "--scheduler", "dfs", "--max-executions", "50", "--out", tmp_path)
    assert res.exit_code == 3, res.stdout
    assert "incomplete" in res.stdout and "VIOLATION" not in res.stdout


def test_bad_memory_models_are_one_line(tmp_path):
    res = run("check", "--memory-model", "tso")
    assert res.exit_code == 2 and "Invalid value for '--memory-model'" in res.stderr
    res = run("check", "--memory-model", "ra", "--scheduler", "hypothesis", "--scenario", "large")
    assert res.exit_code == 2 and "read-from choices" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    res = run("check", "--memory-model", "ra", "--scenario", "write-migrate", "--jobs", "2")
    assert res.exit_code == 2 and "one serial search" in res.stderr
    res = run("check", "--memory-model", "ra", "--scenario", "write-migrate", "--preemption-bound", "auto")
    assert res.exit_code == 2 and "one serial search" in res.stderr


def test_random_sampling_runs_under_ra(tmp_path):
    res = run("check", "--mutation", "relaxed-zspage-lock", "--scenario", "write-migrate",
              "--scheduler", "random", "--executions", "200", "--out", tmp_path)
    assert res.exit_code == 1 and "violation of data-race" in res.stdout
