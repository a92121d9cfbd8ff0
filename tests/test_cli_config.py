"""zsmc check --config (PREEMPT_RT) and scenarios with interrupt handlers, end to end."""

from __future__ import annotations

import json

from clirun import run


def test_an_rt_mutation_is_checked_on_rt_by_default_and_silent_on_default(tmp_path):
    res = run("check", "--mutation", "rt-lock-in-preempt-disabled", "--scenario", "malloc-free",
              "--cpus", "1", "--out", tmp_path)
    assert res.exit_code == 1, res.stdout
    assert "kernel PREEMPT_RT" in res.stdout.splitlines()[0]
    assert "violation of sleep-in-atomic" in res.stdout
    [path] = tmp_path.glob("*.json")
    trace = json.loads(path.read_text())
    assert trace["program"]["params"]["config"] == "rt"
    assert "--config rt" in trace["meta"]["command"]
    again = run("replay", path)
    assert again.exit_code == 1 and "reproduced: [sleep-in-atomic]" in again.stdout
    quiet = run("check", "--mutation", "rt-lock-in-preempt-disabled", "--scenario", "malloc-free",
                "--cpus", "1", "--config", "default", "--out", tmp_path)
    assert quiet.exit_code == 0, quiet.stdout
    assert "PREEMPT_RT" not in quiet.stdout


def test_the_json_report_names_the_configuration_only_when_rt(tmp_path):
    rt = json.loads(run("check", "--config", "rt", "--scenario", "smoke", "--format", "json",
                        "--out", tmp_path).stdout)
    plain = json.loads(run("check", "--scenario", "smoke", "--format", "json", "--out", tmp_path).stdout)
    assert rt["config"] == "rt" and "config" not in plain


def test_bad_configurations_are_one_line(tmp_path):
    res = run("check", "--config", "preempt-full")
    assert res.exit_code == 2 and "Invalid value for '--config'" in res.stderr
    res = run("check", "--config", "rt", "--scheduler", "hypothesis", "--scenario", "large")
    assert res.exit_code == 2 and "!PREEMPT_RT kernel only" in res.stderr


def test_a_scenario_with_interrupt_handlers_is_explored_by_dfs_and_says_so(tmp_path):
    res = run("check", "--mutation", "irq-reader", "--scenario", "irq-read-migrate",
              "--property", "deadlock", "--out", tmp_path)
    assert res.exit_code == 1, res.stdout
    assert "scheduler dfs" in res.stdout.splitlines()[0]
    assert "violation of deadlock" in res.stdout
    assert "note: interrupt handlers: explored by dfs" in res.stdout
    res = run("check", "--mutation", "irq-reader", "--scenario", "irq-read-migrate", "--jobs", "2")
    assert res.exit_code == 2 and "only dfs explores" in res.stderr


def test_an_interrupt_context_mutation_runs_the_scenarios_that_have_its_clients(tmp_path):
    # The default set has no interrupt-context client: run there, irq-reader changes no
    # kernel function and said "pass" (found by the issue-14 benchmark).
    res = run("check", "--mutation", "irq-reader", "--out", tmp_path)
    assert res.exit_code == 1, res.stdout
    assert "scenarios: irq-read-migrate" in res.stdout
    assert "violation of" in res.stdout
