"""Violations that need several executions (issue 12 part 3): a lock-order cycle whose
edges come from two runs.  The trace carries every run that contributes an edge
(trace version 2, ``runs``), replay reproduces it, the minimiser minimises each
run, ``show`` draws them, and the split search's cross-subtree cycles do the same.
"""

from __future__ import annotations

import copy
import json

import pytest
from clirun import run as cli_run

from checker import explore
from checker.minimize import minimize_trace
from checker.parallel import explore_split
from checker.render import render_html, render_text
from checker.trace import load_trace, make_trace, replay, save_trace

try:
    from tests import trace_programs as tp
except ImportError:  # tests/ on sys.path instead of the rootdir
    import trace_programs as tp

PARAMS = {"program": "two-runs"}


@pytest.fixture(scope="module")
def found():
    r = explore(tp.load(PARAMS), properties=["lock-order"])
    [v] = r.violations
    return v


@pytest.fixture(scope="module")
def trace(found):
    return make_trace(found, tp.program(PARAMS))


def test_the_cycle_needs_an_earlier_run_and_the_violation_says_which(found):
    assert found.property == "lock-order" and "(run 1)" in found.message
    assert len(found.runs) == 1
    # The earlier run ends where its task asks for the second lock: its last step is T's.
    assert found.runs[0][-1][0] == 1
    choice = lambda sched: next(c for t, c in sched if c is not None)
    assert {choice(found.runs[0]), choice(found.schedule)} == {"AB", "BA"}


def test_the_trace_carries_the_run_and_replays_it(trace):
    assert trace["version"] == 2 and len(trace["runs"]) == 1
    run = trace["runs"][0]
    assert len(run["events"]) == len(run["schedule"]) and run["stats"]["steps"] == len(run["schedule"])
    out = replay(trace)
    assert out.reproduced and "after 1 earlier run(s)" in out.message


def test_without_its_earlier_run_the_cycle_is_not_reproduced(trace):
    alone = copy.deepcopy(trace)
    del alone["runs"]
    out = replay(alone)
    assert not out.reproduced and out.violation is None


def test_zsmc_replay_exits_1_and_show_draws_every_run(trace, tmp_path):
    path = save_trace(trace, str(tmp_path))
    res = cli_run("replay", path)
    assert res.exit_code == 1 and "reproduced after 1 earlier run(s)" in res.stdout
    text = render_text(load_trace(path))
    assert "earlier run 1 of 1" in text and "the violating run:" in text
    assert text.count("step  CPU 0") == 2
    assert render_html(load_trace(path)).count("<svg") == 2
    shown = cli_run("show", path)
    assert shown.exit_code == 0 and "earlier run 1 of 1" in shown.stdout


def test_a_diverging_earlier_run_is_one_line_exit_2(trace, tmp_path):
    bad = copy.deepcopy(trace)
    bad["runs"][0]["schedule"][0] = [1, "XY"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    res = cli_run("replay", str(path))
    assert res.exit_code == 2 and "of run 1 of 2" in res.stderr and len(res.stderr.splitlines()) == 1


def test_the_minimiser_minimises_each_run(trace):
    before = trace["runs"][0]["stats"]["steps"]
    small, report = minimize_trace(trace, time_limit=20)
    after = small["runs"][0]["stats"]["steps"]
    # The chatter of the other CPU is not in the causal past of the edge: sliced away.
    assert after < before and after == len(small["runs"][0]["schedule"])
    assert "earlier run 1" in report.message
    assert replay(small).reproduced


def test_a_cycle_across_subtrees_of_a_split_search_writes_a_replayable_trace():
    build = tp.load(PARAMS)
    r = explore_split(build, jobs=1, split_depth=2, properties=["lock-order"])
    [v] = [v for v in r.violations if v.property == "lock-order"]
    assert v.runs, "the earlier subtree's edge comes with its schedule"
    assert replay(make_trace(v, tp.program(PARAMS))).reproduced


def test_version_1_traces_are_still_read(tmp_path):
    import glob
    import os
    for f in sorted(glob.glob(os.path.join(os.path.dirname(__file__), "counterexamples", "*.json")))[:2]:
        assert load_trace(f)["version"] == 1


def test_runs_are_refused_in_a_version_1_trace(trace, tmp_path):
    old = copy.deepcopy(trace)
    old["version"] = 1
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    res = cli_run("replay", str(path))
    assert res.exit_code == 2 and "'runs'" in res.stderr
