"""What a person reads (issue 15, point 4): the minimised trace folded to lock and
preemption steps, --quiet, -h, a bare ``zsmc list``, ``--property bug``, a repeated
--scenario, shell completion and ``show``'s short header."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from clirun import run

from checker.render import KEPT_OPS, program_line, render_steps
from cli.app import LISTS

MUTATION = ("--mutation", "free-drops-pool-lock-early", "--scenario", "read-compact", "--cpus", "2")


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    """One check of a seeded bug: its report and the trace file it wrote."""
    out = tmp_path_factory.mktemp("out")
    res = run("check", *MUTATION, "--out", str(out))
    assert res.exit_code == 1, res.output
    [path] = out.glob("*.json")
    return res.stdout, json.loads(path.read_text()), path


def shown_steps(text: str) -> list:
    return [int(m.group(1)) for m in re.finditer(r"^(?:>>|\* |  )\s*(\d+)  cpu\d", text, re.MULTILINE)]


def test_check_prints_the_trace_the_file_holds_folded(found):
    stdout, trace, _ = found
    events = trace["events"]
    kept = [e["i"] for e in events
            if e["op"] in KEPT_OPS or e.get("preemption") or e["i"] == trace["violation"]["step"]
            or e["i"] in trace["violation"]["involved"]]
    assert shown_steps(stdout) == kept
    assert len(kept) < len(events)
    assert f"({len(kept)} of {len(events)} steps shown" in stdout and "--all-steps" in stdout
    # every shown line is the file's step, as the file has it (the minimised one)
    for e in events:
        if e["i"] in kept and e["op"] == "acquire":
            assert re.search(rf"^\s+{e['i']}  cpu{e['cpu']} {e['name']}\s+\S*lock\S*\(&{re.escape(e['obj'])}\)",
                             stdout, re.MULTILINE), e


def test_all_steps_prints_every_step(tmp_path):
    res = run("check", *MUTATION, "--out", str(tmp_path), "--all-steps")
    [path] = tmp_path.glob("*.json")
    trace = json.loads(path.read_text())
    assert shown_steps(res.stdout) == [e["i"] for e in trace["events"]]
    assert "steps shown" not in res.stdout


def test_quiet_prints_the_trace_paths_and_the_result_only(tmp_path):
    res = run("check", *MUTATION, "--out", str(tmp_path), "-q")
    assert res.exit_code == 1
    [path] = tmp_path.glob("*.json")
    lines = res.stdout.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"trace: {path}  [bug] ")
    assert lines[1].startswith("result: VIOLATION")


def test_quiet_pass_is_one_line():
    res = run("check", "--scenario", "smoke", "--quiet")
    assert res.exit_code == 0 and res.stdout.splitlines() == [
        "result: pass (1 scenario(s) explored completely, no violation)"]


def test_a_repeated_scenario_runs_once():
    res = run("check", "--scenario", "smoke", "--scenario", "smoke", "--scenario", "smoke")
    assert res.exit_code == 0
    assert res.stdout.count("scenario smoke (") == 1 and "scenarios: smoke\n" in res.stdout


@pytest.mark.parametrize("args", [["-h"], ["check", "-h"], ["list", "-h"], ["variant", "new", "-h"]])
def test_dash_h_is_help(args):
    res = run(*args)
    assert res.exit_code == 0 and res.stdout.startswith("Usage: ")
    assert res.stdout == run(*args[:-1], "--help").stdout


def test_list_without_argument_lists_what_can_be_listed():
    res = run("list")
    assert res.exit_code == 0
    kinds = [ln.split()[0] for ln in res.stdout.splitlines()]
    assert kinds == list(LISTS)
    for kind in kinds:
        assert run("list", kind).exit_code == 0


def test_the_property_bug_of_list_mutations_is_accepted(tmp_path):
    rows = run("list", "mutations").stdout.splitlines()
    assert any(r.split()[2] == "bug" for r in rows if len(r.split()) > 2)
    res = run("check", *MUTATION, "--property", "bug", "--out", str(tmp_path), "-q")
    assert res.exit_code == 1 and "[bug]" in res.stdout
    # only the engine's own check: no monitor runs
    doc = json.loads(run("check", "--scenario", "smoke", "--property", "bug", "--format", "json").stdout)
    assert doc["status"] == "pass" and doc["properties"] == ["bug"]
    err = run("check", "--scenario", "smoke", "--property", "bugs")
    assert err.exit_code == 2 and "known properties: bug, " in err.stderr


def test_show_header_is_short_and_folded(found):
    path = found[2]
    res = run("show", str(path))
    assert res.exit_code == 0
    lines = res.stdout.splitlines()
    program = next(ln for ln in lines if ln.startswith("program: "))
    assert len(program) < 200
    assert "variant=upstream mutation=free-drops-pool-lock-early scenario=read-compact depth=1" in program
    assert "(+ tasks, pool)" in program and "[model.registry:build_from_params]" in program
    assert any(ln.startswith("(") and "steps shown" in ln for ln in lines)
    every = run("show", str(path), "--all-steps").stdout
    assert len(every.splitlines()) > len(lines)


def test_program_line_of_any_params():
    assert program_line({"loader": "m:f", "params": {}}) == "[m:f]"
    long = program_line({"loader": "m:f", "params": {"x": "y" * 300, "tasks": [1]}})
    assert len(long) < 150 and long.endswith("~ (+ tasks) [m:f]")


def test_render_steps_marks_the_violation(found):
    _, trace, _ = found
    text = render_steps(trace)
    assert text.splitlines()[0].startswith("violation of bug: ")
    assert re.search(rf"^>>\s+{trace['violation']['step']}  ", text, re.MULTILINE)


def test_shell_completion_as_documented():
    """docs/cli.md: ``eval "$(_ZSMC_COMPLETE=bash_source zsmc)"``; completing ``zsmc list``."""
    exe = os.path.join(os.path.dirname(sys.executable), "zsmc")
    if not os.path.exists(exe):
        pytest.fail("zsmc is not installed in this environment (pip install -e .)")
    env = dict(os.environ, _ZSMC_COMPLETE="bash_source")
    script = subprocess.run([exe], env=env, capture_output=True, text=True, check=True).stdout
    assert "_zsmc_completion()" in script and "complete -o nosort -F _zsmc_completion zsmc" in script
    env = dict(os.environ, _ZSMC_COMPLETE="bash_complete", COMP_WORDS="zsmc list ", COMP_CWORD="2")
    words = subprocess.run([exe], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert [w.split(",")[1] for w in words] == list(LISTS)
    env.update(COMP_WORDS="zsmc check --mutation free-d", COMP_CWORD="3")
    words = subprocess.run([exe], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert "plain,free-drops-pool-lock-early" in words
