"""The pytest plugin (issue 5), tested with pytester: counterexample files, the marker and the fixture."""

from __future__ import annotations

import pathlib

import copy
import importlib.metadata
import json
import subprocess
import sys
import textwrap

import pytest

import checker

from checker.trace import make_trace

try:
    from tests import trace_programs as tp
except ImportError:
    import trace_programs as tp

pytest_plugins = ["pytester"]

# The plugin is loaded by its pytest11 entry point once zsmc is installed; from a
# bare checkout it is named explicitly (naming it twice would register it twice).
_INSTALLED = any(ep.name == "zsmc" for ep in importlib.metadata.entry_points(group="pytest11"))
PLUGIN = [] if _INSTALLED else ["-p", "pytest_zsmc"]
BANK = {"program": "bank"}


@pytest.fixture(scope="module")
def bank():
    return make_trace(tp.find_violation(BANK, tp.NEGATIVE, seeds=range(40)), tp.program(BANK))


def _put(pytester, rel, data):
    path = pytester.path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def _run(pytester, *args):
    # Hypothesis' plugin costs about 2 s per in-process run and is not needed here.
    return pytester.runpytest_inprocess(*PLUGIN, "-p", "no:cacheprovider", "-p", "no:hypothesispytest", *args)


def test_a_good_trace_becomes_a_passing_item(pytester, bank):
    _put(pytester, "tests/counterexamples/bank.json", bank)
    res = _run(pytester, "-v")
    res.assert_outcomes(passed=1)
    res.stdout.fnmatch_lines(["*tests/counterexamples/bank.json::replay PASSED*"])


def test_a_pass_trace_of_a_fixed_program_passes(pytester, bank):
    fixed = copy.deepcopy(bank)
    fixed["expect"] = "pass"
    fixed["program"]["params"]["initial"] = 500
    _put(pytester, "tests/counterexamples/fixed.json", fixed)
    _run(pytester).assert_outcomes(passed=1)


def test_a_trace_of_another_version_fails_with_one_line(pytester, bank):
    _put(pytester, "tests/counterexamples/v9.json", dict(bank, version=9))
    res = _run(pytester)
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines([
        "*zsmc trace v9.json: tests/counterexamples/v9.json is a zsmc trace of version 9; zsmc * reads versions 1, 2*",
        "replay: zsmc replay tests/counterexamples/v9.json",
    ])
    assert "Traceback" not in res.stdout.str()


def test_a_seeded_bug_that_is_no_longer_found_fails_with_the_trace(pytester, bank):
    lost = copy.deepcopy(bank)
    lost["program"]["params"]["initial"] = 500   # the bug no longer shows on this schedule
    _put(pytester, "tests/counterexamples/lost.json", lost)
    res = _run(pytester)
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines([
        "*expected [[]test-negative-balance[]] at step 7 (a seeded bug that must stay found), not reproduced*",
        "violation of test-negative-balance at step 7: balance went negative: -20",
        "*step  CPU 0*",
        "replay: zsmc replay tests/counterexamples/lost.json",
    ])


def test_a_fixed_bug_that_comes_back_fails_with_the_trace(pytester, bank):
    back = dict(bank, expect="pass")
    _put(pytester, "tests/counterexamples/back.json", back)
    res = _run(pytester)
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines([
        "*expected no violation (a fixed bug kept as a regression), found [[]test-negative-balance[]] at step 7*",
        "*write(balance, -20)*",
        "replay: zsmc replay tests/counterexamples/back.json",
    ])


def test_other_json_files_are_never_claimed(pytester, bank):
    _put(pytester, "tests/counterexamples/bank.json", bank)
    _put(pytester, "tests/counterexamples/other.json", {"format": "something-else", "version": 1})
    _put(pytester, "tests/counterexamples/list.json", [1, 2])
    _put(pytester, "tests/counterexamples/broken.json", "{not json")
    _put(pytester, "tests/data/bank-copy.json", bank)     # a trace outside the glob
    res = _run(pytester, "--collect-only", "-q")
    assert res.ret == 0
    out = res.stdout.str()
    assert "counterexamples/bank.json::replay" in out
    for name in ("other.json", "list.json", "broken.json", "bank-copy.json"):
        assert name not in out


def test_the_glob_is_an_ini_option(pytester, bank):
    pytester.makeini("[pytest]\nzsmc_traces = ce/*.json more/**/*.json\n")
    _put(pytester, "ce/a.json", bank)
    _put(pytester, "more/deep/b.json", bank)
    _put(pytester, "tests/counterexamples/c.json", bank)   # no longer under the glob
    res = _run(pytester, "-v", "ce", "more", "tests")
    res.assert_outcomes(passed=2)
    res.stdout.fnmatch_lines(["*ce/a.json::replay PASSED*", "*more/deep/b.json::replay PASSED*"])


_CHECKS = '''
import importlib
import pytest
from checker import Program, Task, Var

tp = importlib.import_module({module!r})
seen = []


def counter(depth=1):
    x = Var("x")

    def inc():
        for _ in range(depth):
            v = yield x.read()
            yield x.write(v + 1)

    seen.append(depth)
    return Program([Task(inc, "A", 0), Task(inc, "B", 1)])


def test_locked_bank_passes(zsmc_check):
    res = zsmc_check(tp.load({{"program": "bank", "locked": True}}))
    assert res.complete and res.ok and res.scheduler == {scheduler!r}


@pytest.mark.zsmc(expect="violation", properties=[{prop!r}])
def test_seeded_bug_is_found(zsmc_check):
    res = zsmc_check(tp.load({{"program": "bank"}}))
    assert res.violations[0].property == {prop!r}


@pytest.mark.zsmc(properties=[{prop!r}], program={program!r})
def test_racy_bank_fails(zsmc_check):
    zsmc_check(tp.load({{"program": "bank"}}))


@pytest.mark.zsmc(seed=7, preemption_bound=1)
def test_options_come_from_the_command_line_and_the_marker(zsmc_check):
    assert (zsmc_check.depth, zsmc_check.scheduler, zsmc_check.seed) == (3, {scheduler!r}, 7)
    assert zsmc_check.preemption_bound == 1 and zsmc_check.time_limit == 30.0
    res = zsmc_check(counter, properties=[])
    assert seen and set(seen) == {{3}} and res.preemption_bound == 1


def test_no_violation_found_when_one_was_expected(zsmc_check):
    zsmc_check(tp.load({{"program": "bank", "locked": True}}), expect="violation")
'''


@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_marker_and_fixture(pytester, scheduler):
    pytester.makepyfile(test_checks=_CHECKS.format(module=tp.__name__, prop=tp.NEGATIVE,
                                                   program=tp.program(BANK), scheduler=scheduler))
    res = _run(pytester, f"--zsmc-scheduler={scheduler}", "--zsmc-depth=3", "--zsmc-time-limit=30", "-v")
    res.assert_outcomes(passed=3, failed=2)
    out = res.stdout.str()
    res.stdout.fnmatch_lines([
        "*test_racy_bank_fails*",
        "zsmc: [[]test-negative-balance[]] balance went negative: -20*",
        "violation of test-negative-balance at step 7: balance went negative: -20",
        "*step  CPU 0*",
        "trace saved: *.json",
        "replay: zsmc replay *.json",
    ])
    assert f"zsmc: expected a violation, found none ({scheduler}: " in out
    # The saved trace is a real, replayable trace file.
    path = next(line.split("trace saved: ", 1)[1] for line in out.splitlines() if "trace saved: " in line)
    from checker.trace import load_trace, replay
    assert replay(load_trace(path.strip())).reproduced


@pytest.mark.parametrize("args, message", [
    (["--zsmc-depth=-1"], "--zsmc-depth must be a positive integer (operations per task), got -1"),
    (["--zsmc-depth=0"], "--zsmc-depth must be a positive integer (operations per task), got 0"),
    (["--zsmc-time-limit=0"], "--zsmc-time-limit must be a positive number of seconds"),
    (["--zsmc-scheduler=nope"], "--zsmc-scheduler: unknown scheduler 'nope'; known: "),
])
def test_bad_options_are_usage_errors(pytester, args, message):
    res = _run(pytester, *args)
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert message in res.stderr.str()


def test_unknown_marker_options_are_reported(pytester):
    pytester.makepyfile(test_bad='''
import pytest

@pytest.mark.zsmc(depht=2)
def test_typo(zsmc_check):
    pass
''')
    res = _run(pytester)
    res.assert_outcomes(errors=1)
    res.stdout.fnmatch_lines(["@pytest.mark.zsmc: unknown option(s) [[]'depht'[]]; it takes keyword options: depth, *"])
    assert "Traceback" not in res.stdout.str() and "def zsmc_check" not in res.stdout.str()


def test_the_plugin_module_is_import_light():
    code = textwrap.dedent("""
        import sys
        import pytest_zsmc
        heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('z3', 'model', 'properties', 'click'))
        engine = sorted(m for m in ('checker.trace', 'checker.minimize', 'checker.render') if m in sys.modules)
        print(heavy, engine)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(pathlib.Path(checker.__file__).parent.parent))
    assert out.stdout.strip() == "[] []", out.stdout + out.stderr


_INCOMPLETE = '''
from dataclasses import dataclass

import pytest

from checker import Obj, Program, Task, label, shared_struct

tp = __import__({module!r}, fromlist=["load"])


@shared_struct(owner="obj")
@dataclass(slots=True, eq=False)
class Box:
    obj: Obj
    n: int = 0


def racy():
    box = Box(Obj("box"))

    def bump():
        yield label("bump")
        box.n += 1          # a plain write, no lock: a data race with the other task's

    return Program([Task(bump, "A", 0), Task(bump, "B", 1)])


def test_a_budget_that_stops_the_search_fails(zsmc_check):
    zsmc_check(tp.load({{"program": "bank", "locked": True}}), max_executions=1)


def test_the_test_may_accept_an_incomplete_search(zsmc_check):
    res = zsmc_check(tp.load({{"program": "bank", "locked": True}}), max_executions=1,
                     allow_incomplete=True)
    assert not res.complete and res.executions == 1


def test_a_race_left_out_of_the_properties_fails(zsmc_check):
    zsmc_check(racy, properties=["deadlock"])


def test_a_sampled_check_is_not_held_to_completeness(zsmc_check):
    res = zsmc_check(tp.load({{"program": "bank", "locked": True}}), scheduler="random",
                     max_executions=5)
    assert not res.complete and res.ok
'''


def test_a_pass_is_a_complete_search(pytester):
    """An exhaustive check stopped by its budget, or by a data race the test's properties
    leave out, is "incomplete, not verified" (``zsmc check`` exits 3): the test fails."""
    pytester.makepyfile(test_incomplete=_INCOMPLETE.format(module=tp.__name__))
    res = _run(pytester, "-v")
    res.assert_outcomes(passed=2, failed=2)
    out = res.stdout.str()
    res.stdout.fnmatch_lines([
        "*test_a_budget_that_stops_the_search_fails FAILED*",
        "*test_the_test_may_accept_an_incomplete_search PASSED*",
        "*test_a_race_left_out_of_the_properties_fails FAILED*",
        "*test_a_sampled_check_is_not_held_to_completeness PASSED*",
    ])
    # Each failure is the one line, read from the reports: the short summary repeats it or
    # not depending on the terminal's width, so counting it in stdout depends on the machine.
    failed = {r.nodeid.rsplit("::", 1)[1]: r.longreprtext for r in res.reprec.getfailures()}
    assert sorted(failed) == ["test_a_budget_that_stops_the_search_fails",
                              "test_a_race_left_out_of_the_properties_fails"]
    for text in failed.values():
        assert text.count("zsmc: incomplete, not verified: ") == 1
        assert text.rstrip().endswith("or say allow_incomplete=True")
    assert "execution budget" in failed["test_a_budget_that_stops_the_search_fails"]
    assert "data race" in failed["test_a_race_left_out_of_the_properties_fails"]
