"""The command line against a tiny fake model registry (fast, independent of model/).

The fake honours model/registry.py's contract on a toy protocol: each task
writes its id to ``x`` and reads it back, under a spinlock in version
``good``; the mutation ``nolock`` drops the lock, so another task's write can
land in between and the task's ``assert`` (a kernel BUG_ON) fires.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import pathlib
import sys
import types
from dataclasses import dataclass

import click
import pytest
from clirun import run

import cli
from checker import Bug, Program, SpinLock, Task, UsageError, Var
from checker.monitor import REGISTRY, Monitor
from checker.result import Result
from cli import app as cli_app
from cli import format as cli_format
from cli import session as cli_session

SCHEDULERS = ["dfs"] + (["dpor"] if importlib.util.find_spec("checker.schedulers.dpor") else [])


# --------------------------------------------------------------------------- the fake registry
@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    min_cpus: int
    default_cpus: int
    default: bool = True


@dataclass(frozen=True, slots=True)
class Mutation:
    name: str
    base: str
    cls: type | None
    expected_property: str
    origin: str
    summary: str
    expressible: bool = True
    reason: str = ""


class Good:
    """Toy protocol: write your id to x and read it back, under a spinlock."""

    locked = True

    def op(self, x, lk, me):
        if self.locked:
            yield lk.acquire()
        yield x.write(me)
        v = yield x.read()
        if v != me:
            raise Bug(f"t{me} wrote {me} but read {v}")
        if self.locked:
            yield lk.release()


class NoLock(Good):
    """Good without the lock (the seeded bug)."""

    locked = False


class NotAVersion:
    """Not a subclass of any version."""


TASKS = {"solo": 1, "pair": 2, "trio": 3, "quad": 4}


def _fake_registry() -> types.ModuleType:
    reg = types.ModuleType("model.registry")
    reg.VERSIONS = {"upstream": Good}
    reg.loaded = {"Good": Good, "NoLock": NoLock}
    reg.SCENARIOS = {
        "solo": Scenario("solo", "one task on one CPU", 1, 1),
        "pair": Scenario("pair", "two tasks on two CPUs", 2, 2),
        "trio": Scenario("trio", "three tasks sharing one CPU", 1, 1, default=False),
        "quad": Scenario("quad", "four tasks, one CPU each", 4, 4, default=False),
    }
    reg.MUTATIONS = {
        "nolock": Mutation("nolock", "upstream", NoLock, "bug", "test", "drops the spinlock around the store"),
        "weak": Mutation("weak", "upstream", None, "data-integrity", "review", "a reordered store",
                         expressible=False, reason="needs a weak memory model"),
    }

    def load_variant(spec):
        if spec in reg.VERSIONS:
            return reg.VERSIONS[spec]
        path, sep, name = spec.rpartition(":")
        if not sep:
            raise UsageError(f"unknown variant {spec!r}; built-in versions: upstream")
        try:
            loc = importlib.util.spec_from_file_location("user_variant", path)
            mod = importlib.util.module_from_spec(loc)
            loc.loader.exec_module(mod)
        except (FileNotFoundError, AttributeError):
            raise UsageError(f"variant file {path!r} not found") from None
        cls = getattr(mod, name, None)
        if not (isinstance(cls, type) and issubclass(cls, Good)):
            raise UsageError(f"{spec}: {name} is not a subclass of a zsmalloc version")
        return cls

    def variant_for(version, mutation):
        return reg.VERSIONS[version] if mutation is None else reg.MUTATIONS[mutation].cls

    def make_build(variant, scenario, depth, cpus=None):
        s = reg.SCENARIOS.get(scenario)
        if s is None:
            raise UsageError(f"unknown scenario {scenario!r}")
        cpus = s.default_cpus if cpus is None else cpus
        if cpus < s.min_cpus:
            raise UsageError(f"scenario {scenario!r} needs at least {s.min_cpus} CPUs, got {cpus}")
        reg.loaded[variant.__qualname__] = variant  # the real registry records a loadable spec
        params = {"variant": variant.__qualname__, "scenario": scenario, "depth": depth, "cpus": cpus}
        return build_from_params(params), params

    def build_from_params(params):
        cls = reg.loaded[params["variant"]]

        def build():
            x, lk, m = Var("x", -1), SpinLock("lk"), cls()

            def task(me):
                for _ in range(params["depth"]):
                    yield from m.op(x, lk, me)
            tasks = [Task(functools.partial(task, i), name=f"t{i}") for i in range(TASKS[params["scenario"]])]
            return Program(tasks, cpus=params["cpus"])
        return build

    def known_variant(spec):    # the real registry: built in, or named by the user
        return spec in reg.VERSIONS or spec in reg.loaded

    reg.load_variant, reg.variant_for, reg.known_variant = load_variant, variant_for, known_variant
    reg.make_build, reg.build_from_params = make_build, build_from_params
    return reg


class Toy(Monitor):
    """A property that never fires (to test --property with a known name)."""

    name = "toy"
    description = "never violated; for the CLI tests"


@pytest.fixture(autouse=True)
def fake_registry(monkeypatch):
    reg = _fake_registry()
    monkeypatch.setitem(sys.modules, "model.registry", reg)
    # As the real registry does on import: traces naming it may be loaded.
    from checker.trace import LOADERS, register_loader
    monkeypatch.setattr("checker.trace.LOADERS", set(LOADERS))
    register_loader("model.registry:build_from_params")
    monkeypatch.setitem(REGISTRY, "toy", "test_cli:Toy")
    return reg


def assert_usage_error(res, *words):
    assert res.exit_code == 2, (res.exit_code, res.output)
    err = res.stderr.strip()
    assert "Traceback" not in res.output
    assert len(err.splitlines()) == 1, err
    assert err.startswith("zsmc: error: ")
    for w in words:
        assert w in err, (w, err)
    return err


# --------------------------------------------------------------------------- check: exit codes
@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_check_pass_exits_0_and_reports_each_default_scenario(scheduler):
    res = run("check", "--variant", "upstream", "--scheduler", scheduler)
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "scenario solo (1 CPU): 1 executions" in out
    assert "scenario pair (2 CPUs):" in out and "complete" in out
    assert "scenario trio" not in out  # not in the default set
    assert out.rstrip().endswith("result: pass (2 scenario(s) explored completely, no violation)")


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_check_violation_exits_1(tmp_path, scheduler):
    import checker.trace  # noqa: F401  (a missing module is a failure)
    res = run("check", "--mutation", "nolock", "--scenario", "pair", "--scheduler", scheduler,
              "--out", str(tmp_path), "--no-minimize")
    assert res.exit_code == 1, res.output
    assert "violation of bug:" in res.stdout and "result: VIOLATION" in res.stdout
    files = list(tmp_path.glob("*.json"))
    assert len(files) == 1
    assert f"replay: zsmc replay {files[0]}" in res.stdout
    assert f"show:   zsmc show {files[0]}" in res.stdout
    # The trace is printed with the violating step marked.
    assert res.stdout.index("violation of bug:") < res.stdout.index(">>") < res.stdout.index("trace: ")


def test_preemption_bound_auto_reports_the_fewest_preemptions(tmp_path):
    import checker.trace  # noqa: F401  (a missing module is a failure)
    res = run("check", "--mutation", "nolock", "--scenario", "pair", "--preemption-bound", "auto",
              "--out", str(tmp_path), "--no-minimize", "--format", "json")
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    sc = doc["scenarios"][0]
    # Bound k is tried only once every execution with fewer preemptions was clean.
    assert sc["bound_covered"] == sc["preemption_bound"] - 1 if sc["preemption_bound"] else sc["bound_covered"] is None
    assert doc["preemption_bound"] == "auto"


def test_preemption_bound_auto_on_a_clean_model_is_complete():
    res = run("check", "--variant", "upstream", "--preemption-bound", "auto")
    assert res.exit_code == 0, res.output
    assert "result: pass (2 scenario(s) explored completely" in res.stdout
    assert "cut nothing" in res.stdout


def test_a_bound_that_cut_branches_passes_only_within_it():
    res = run("check", "--variant", "upstream", "--scenario", "trio", "--depth", "2",
              "--preemption-bound", "0", "--scheduler", "dfs")
    assert res.exit_code == 0, res.output
    assert "complete within preemption bound 0 (the bound cut" in res.stdout
    assert "result: pass within preemption bound 0" in res.stdout


def test_jobs_report_the_serial_counts(tmp_path):
    serial = json.loads(run("check", "--variant", "upstream", "--scenario", "trio", "--depth", "2",
                            "--format", "json").stdout)
    split = json.loads(run("check", "--variant", "upstream", "--scenario", "trio", "--depth", "2",
                           "--jobs", "2", "--format", "json", "--checkpoint", str(tmp_path / "ck")).stdout)
    assert split["status"] == serial["status"] == "pass"
    assert split["scenarios"][0]["executions"] == serial["scenarios"][0]["executions"] > 1
    assert (tmp_path / "ck").exists()
    resumed = json.loads(run("check", "--variant", "upstream", "--scenario", "trio", "--depth", "2",
                             "--resume", str(tmp_path / "ck"), "--format", "json").stdout)
    assert resumed["scenarios"][0]["executions"] == serial["scenarios"][0]["executions"]


def test_jobs_over_the_default_scenarios_report_the_serial_counts():
    serial = json.loads(run("check", "--depth", "1", "--format", "json").stdout)
    pooled = json.loads(run("check", "--depth", "1", "--jobs", "2", "--format", "json").stdout)
    assert pooled["status"] == serial["status"] == "pass"
    counts = [(s["name"], s["executions"], s["complete"]) for s in serial["scenarios"]]
    assert [(s["name"], s["executions"], s["complete"]) for s in pooled["scenarios"]] == counts
    assert len(counts) > 1


def test_hypothesis_scheduler_finds_writes_and_is_never_verified(tmp_path):
    import checker.trace  # noqa: F401  (a missing module is a failure)
    res = run("check", "--mutation", "nolock", "--scenario", "pair", "--scheduler", "hypothesis",
              "--executions", "200", "--seed", "1", "--out", str(tmp_path), "--no-minimize")
    assert res.exit_code == 1, res.output
    assert "shrunk by Hypothesis" in res.stdout and len(list(tmp_path.glob("*.json"))) == 1
    clean = run("check", "--variant", "upstream", "--scenario", "pair", "--scheduler", "hypothesis",
                "--executions", "20")
    assert clean.exit_code == 3 and "Hypothesis examples)" in clean.stdout   # sampled: never verified


def test_pct_takes_its_depth_and_execution_count():
    res = run("check", "--variant", "upstream", "--scenario", "pair", "--scheduler", "pct",
              "--pct-depth", "2", "--executions", "37", "--seed", "5")
    assert res.exit_code == 3, res.output
    assert "37 executions" in res.stdout and "(depth 2)" in res.stdout


def test_json_format_writes_progress_records_to_stderr():
    res = run("check", "--variant", "upstream", "--scenario", "trio", "--depth", "2", "--jobs", "2",
              "--format", "json")
    assert res.exit_code == 0, res.output
    records = [json.loads(line) for line in res.stderr.splitlines()]
    assert records and all(r["format"] == "zsmc-progress" and r["scenario"] == "trio" for r in records)
    assert records[-1]["progress"].endswith("subtrees explored")
    assert records[-1]["executions"] == json.loads(res.stdout)["scenarios"][0]["executions"]


def test_resume_of_a_missing_checkpoint_is_a_usage_error(tmp_path):
    res = run("check", "--variant", "upstream", "--scenario", "trio", "--resume", str(tmp_path / "nope"))
    assert_usage_error(res, "no such checkpoint")


def test_budget_exhausted_exits_3_incomplete_not_verified():
    res = run("check", "--variant", "upstream", "--scenario", "trio", "--depth", "2",
              "--scheduler", "dfs", "--max-executions", "1")
    assert res.exit_code == 3, res.output
    assert "incomplete (execution budget of 1 reached)" in res.stdout
    assert "result: incomplete, not verified" in res.stdout


def test_time_limit_is_for_the_whole_check(monkeypatch):
    # A clock that jumps 10 s per reading: the budget is gone before the second scenario.
    t = iter(range(0, 10_000, 10))
    monkeypatch.setattr(cli_session.time, "monotonic", lambda: next(t))
    res = run("check", "--variant", "upstream", "--scheduler", "dfs", "--time-limit", "15")
    assert res.exit_code == 3, res.output
    assert "scenario pair (2 CPUs): 0 executions" in res.stdout
    assert "time limit of 15s reached before it started" in res.stdout


def test_json_document(tmp_path):
    res = run("check", "--variant", "upstream", "--scheduler", "dfs", "--format", "json")
    assert res.exit_code == 0
    doc = json.loads(res.stdout)
    assert doc["format"] == "zsmc-check" and doc["status"] == "pass" and doc["exit_code"] == 0
    assert [s["name"] for s in doc["scenarios"]] == ["solo", "pair"]
    solo = doc["scenarios"][0]
    assert solo["complete"] is True and solo["executions"] == 1 and solo["violations"] == []
    assert solo["params"]["cpus"] == 1


def test_json_incomplete_reports_reason():
    res = run("check", "--scenario", "trio", "--variant", "upstream", "--scheduler", "dfs",
              "--max-executions", "2", "--format", "json")
    doc = json.loads(res.stdout)
    assert res.exit_code == 3 and doc["status"] == "incomplete"
    assert doc["scenarios"][0]["reason"] == "execution budget of 2 reached"
    assert doc["scenarios"][0]["executions"] == 2


def test_known_property_is_accepted():
    res = run("check", "--variant", "upstream", "--scheduler", "dfs", "--property", "toy", "--format", "json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["properties"] == ["toy"]


def test_variant_from_a_file(tmp_path):
    f = tmp_path / "patch.py"
    f.write_text("import test_cli\nclass Mine(test_cli.NoLock):\n    '''my patch'''\n"
                 "class Other:\n    pass\n")
    res = run("check", "--variant", f"{f}:Mine", "--scenario", "solo", "--scheduler", "dfs")
    assert res.exit_code == 0, res.output
    assert f"variant {f}:Mine" in res.stdout
    assert_usage_error(run("check", "--variant", f"{f}:Other"), "not a subclass")


# --------------------------------------------------------------------------- check: bad input
@pytest.mark.parametrize("args,words", [
    (["--depth", "0"], ["--depth", "positive integer", "'0'"]),
    (["--depth", "-2"], ["--depth", "positive integer"]),
    (["--depth", "abc"], ["--depth", "'abc'"]),
    (["--depth", "1.5"], ["--depth"]),
    (["--cpus", "0"], ["--cpus"]),
    (["--variant", "nope"], ["unknown variant", "nope"]),
    (["--variant", "missing.py:X"], ["missing.py", "not found"]),
    (["--mutation", "nope"], ["unknown mutation 'nope'", "nolock"]),
    (["--mutation", "weak"], ["cannot be expressed", "weak memory"]),
    (["--mutation", "nolock", "--variant", "x.py:C"], ["built-in version"]),
    (["--scenario", "nope"], ["unknown scenario", "nope"]),
    (["--scenario", "quad", "--cpus", "2"], ["needs at least 4 CPUs"]),
    (["--scenario", "solo", "--scenario", "quad", "--cpus", "2"], ["needs at least 4 CPUs"]),
    (["--property", "nope"], ["unknown property 'nope'"]),
    (["--scheduler", "nope"], ["unknown scheduler 'nope'", "dfs"]),
    (["--preemption-bound", "-1"], ["--preemption-bound"]),
    (["--preemption-bound", "often"], ["--preemption-bound", "auto"]),
    (["--preemption-bound", "auto", "--scheduler", "random"], ["auto", "exhaustive"]),
    (["--jobs", "2", "--scheduler", "dfs"], ["--jobs", "dpor"]),
    (["--executions", "10"], ["--executions", "sampled", "--max-executions"]),
    (["--scheduler", "hypothesis", "--preemption-bound", "1"], ["hypothesis"]),
    (["--pct-depth", "0"], ["--pct-depth"]),
    (["--jobs", "2", "--preemption-bound", "1"], ["--jobs", "preemption bound"]),
    (["--jobs", "0"], ["--jobs"]),
    (["--checkpoint", "ck"], ["--checkpoint", "one --scenario"]),
    (["--time-limit", "0"], ["--time-limit"]),
    (["--max-executions", "0"], ["--max-executions"]),
    (["--format", "xml"], ["--format"]),
    (["--bogus"], ["--bogus"]),
])
def test_check_bad_input_is_one_line_exit_2(args, words, tmp_path):
    res = run("check", "--out", str(tmp_path / "t"), *args)
    assert_usage_error(res, *words)
    assert res.stdout == ""  # rejected before anything is explored
    assert not (tmp_path / "t").exists()


def test_model_error_from_a_variant_is_exit_2(tmp_path):
    f = tmp_path / "broken.py"
    f.write_text("import test_cli\nclass Broken(test_cli.Good):\n"
                 "    def op(self, x, lk, me):\n        yield 42\n")
    res = run("check", "--variant", f"{f}:Broken", "--scenario", "solo", "--scheduler", "dfs")
    assert_usage_error(res, "not an action")


def test_internal_bug_is_one_line_exit_4(monkeypatch):
    def boom(*a, **k):
        raise KeyError("oops")
    monkeypatch.setattr("checker.explore", boom)
    res = run("check", "--variant", "upstream", "--scheduler", "dfs")
    assert res.exit_code == 4
    assert "[zsmc internal bug] KeyError" in res.stderr and "Traceback" not in res.output
    assert len(res.stderr.strip().splitlines()) == 1


def test_missing_model_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "model.registry", None)  # import now raises ImportError
    res = run("list", "variants")
    assert res.exit_code == 2 and "cannot import model.registry" in res.stderr


def test_bare_zsmc_prints_help_and_exits_2():
    res = run()
    assert res.exit_code == 2 and res.stdout == ""
    assert "Commands:" in res.stderr and "replay" in res.stderr


def test_help_and_version_exit_0():
    assert run("--help").exit_code == 0
    assert "Exit codes" in run("--help").stdout
    v = run("--version")
    assert v.exit_code == 0 and "zsmc" in v.stdout


# --------------------------------------------------------------------------- list
def test_list_variants_and_scenarios():
    res = run("list", "variants")
    assert res.exit_code == 0
    assert res.stdout.split() == ["upstream", "Toy", "protocol:", "write", "your", "id", "to", "x", "and",
                                  "read", "it", "back,", "under", "a", "spinlock."]
    lines = run("list", "scenarios").stdout.splitlines()
    assert [ln.split()[0] for ln in lines] == ["solo", "pair", "trio", "quad"]
    assert "default" in lines[0] and "default" not in lines[2]
    assert lines[3].endswith("four tasks, one CPU each") and "(min 4)" in lines[3]


def test_list_mutations_says_which_cannot_be_expressed():
    lines = run("list", "mutations").stdout.splitlines()
    assert lines[0].split()[:3] == ["nolock", "upstream", "bug"]
    assert "not expressible: needs a weak memory model" in lines[1]


def test_list_properties_and_schedulers():
    props = run("list", "properties").stdout.splitlines()
    assert len(props) == len(REGISTRY) + 2          # and bug, data-race: the engine checks them itself
    assert props[0].startswith("bug ") and "always checked" in props[0]
    assert any(ln.startswith("toy") and "never violated" in ln for ln in props)
    sched = run("list", "schedulers").stdout
    assert "dfs" in sched and "no reduction" in sched


def test_list_bad_kind_is_exit_2():
    assert_usage_error(run("list", "bogus"), "bogus")


# --------------------------------------------------------------------------- formatting
def test_exit_code_rules():
    done = Result(scheduler="dfs", complete=True)
    short = Result(scheduler="dfs", reason="budget")
    bad = Result(scheduler="dfs", complete=False, violations=["v"])
    runs = lambda *rs: [cli_format.ScenarioRun("s", {}, r) for r in rs]
    assert cli_format.exit_code(runs(done, done)) == 0
    assert cli_format.exit_code(runs(done, short)) == 3
    assert cli_format.exit_code(runs(short, bad)) == 1


def test_progress_line_only_on_a_terminal(monkeypatch):
    class Term:
        def __init__(self, tty):
            self.tty, self.text = tty, ""

        def isatty(self):
            return self.tty

        def write(self, s):
            self.text += s

        def flush(self):
            pass
    monkeypatch.setattr(sys, "stderr", Term(False))
    assert cli_format.Progress.for_stderr("pair") is None
    term = Term(True)
    monkeypatch.setattr(sys, "stderr", term)
    p = cli_format.Progress.for_stderr("pair")
    p(Result(scheduler="dfs", executions=120, elapsed=2.0))
    assert term.text == "\rpair: 120 executions (60/s), 0 violation(s), 2s"
    p.done()
    assert term.text.endswith("\r" + " " * p.width + "\r") or term.text.endswith("\r")
    assert p.width == 0


def test_error_lines_fold_multiline_messages(capsys):
    cli_app._error("first\n  second\n")
    assert capsys.readouterr().err == "zsmc: error: first; second\n"


def test_click_usage_errors_never_show_usage_block():
    res = run("check", "--depth")
    err = assert_usage_error(res, "--depth")
    assert "Usage:" not in err and isinstance(cli.main, click.Group)


def test_console_script_ships_every_module_cli_imports():
    # An editable or regular install only exposes the top-level modules listed in
    # py-modules and the packages found: one missing there breaks the `zsmc` script
    # but not pytest.
    import ast
    import tomllib
    root = pathlib.Path(cli.__file__).parent.parent
    tool = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    shipped = set(tool.get("py-modules", [])) | {p.rstrip("*") for p in tool["packages"]["find"]["include"]}
    top = {p.stem for p in root.glob("*.py")} | {p.parent.name for p in root.glob("*/__init__.py")}
    imported = set()
    for src in (root / "cli").glob("*.py"):
        for node in ast.walk(ast.parse(src.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level:
                imported.add(node.module.split(".")[0])
    assert "cli" in shipped and imported & top <= shipped


# --------------------------------------------------------------------------- traces: replay, show, minimize
@pytest.fixture
def trace_file(tmp_path):
    """A violating trace of the toy mutation, as `zsmc check` writes it (not minimised)."""
    import checker.trace  # noqa: F401  (a missing module is a failure)
    res = run("check", "--mutation", "nolock", "--scenario", "pair", "--scheduler", "dfs",
              "--out", str(tmp_path / "traces"), "--no-minimize", "--format", "json")
    assert res.exit_code == 1, res.output
    [v] = json.loads(res.stdout)["scenarios"][0]["violations"]
    assert v["property"] == "bug" and v["replay"] == f"zsmc replay {v['trace']}"
    return v["trace"]


def edit(path, out, fn):
    doc = json.loads(pathlib.Path(path).read_text())
    fn(doc)
    out.write_text(json.dumps(doc))
    return str(out)


def test_check_writes_the_trace_it_reports(trace_file):
    doc = json.loads(pathlib.Path(trace_file).read_text())
    assert doc["format"] == "zsmc-trace" and doc["expect"] == "violation"
    assert doc["program"] == {"loader": "model.registry:build_from_params",
                              "params": {"variant": "NoLock", "scenario": "pair", "depth": 1, "cpus": 2}}
    assert doc["meta"]["mutation"] == "nolock" and doc["meta"]["scheduler"] == "dfs"
    assert doc["meta"]["command"] == ("zsmc check --depth 1 --mutation nolock --scenario pair --cpus 2 "
                                      "--scheduler dfs --seed 0")


def test_replay_reproduces_exit_1(trace_file):
    res = run("replay", trace_file)
    assert res.exit_code == 1, res.output
    assert "violation of bug: task t" in res.stdout
    step = json.loads(pathlib.Path(trace_file).read_text())["violation"]["step"]
    assert f"{trace_file}: reproduced: [bug] at step {step}: task t" in res.stdout
    assert ">>" in res.stdout  # the violating step is marked


def test_replay_of_a_passing_regression_exits_0(trace_file, tmp_path):
    def fixed(doc):  # the first two steps alone cannot interleave the write and the read
        doc["expect"] = "pass"
        doc["schedule"] = doc["schedule"][:2]
        doc["violation"].update(step=1, involved=[])   # within the schedule (else: malformed)
        del doc["events"]
    res = run("replay", edit(trace_file, tmp_path / "pass.json", fixed))
    assert res.exit_code == 0, res.output
    assert res.stdout.rstrip().endswith("passes, as the trace expects")


def test_replay_of_a_pass_trace_that_violates_exits_1(trace_file, tmp_path):
    res = run("replay", edit(trace_file, tmp_path / "p.json", lambda d: d.update(expect="pass")))
    assert res.exit_code == 1 and "it is back (a regression)" in res.stdout


@pytest.mark.parametrize("change,words", [
    (lambda d: d.update(format="other"), ["not a zsmc trace"]),
    (lambda d: d.update(version=99), ["version 99"]),
    # A variant that is not built in is code: replay runs it only when the user names it.
    (lambda d: d["program"]["params"].update(variant="Gone"), ["runs the variant Gone", "--variant"]),
    (lambda d: d["program"]["params"].update(variant="Good"), ["acquire"]),  # the model changed: divergence
    (lambda d: d.pop("schedule"), ["'schedule'"]),
])
def test_replay_unusable_trace_is_one_line_exit_2(trace_file, tmp_path, change, words):
    assert_usage_error(run("replay", edit(trace_file, tmp_path / "bad.json", change)), *words)


def test_replay_and_show_reject_missing_and_garbage_files(tmp_path):
    import checker.trace  # noqa: F401  (a missing module is a failure)
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    for cmd in ("replay", "show", "minimize"):
        assert_usage_error(run(cmd, str(tmp_path / "absent.json")), "absent.json")
        assert_usage_error(run(cmd, str(junk)), "not valid JSON")


def test_show_text_and_html(trace_file, tmp_path):
    import checker.render  # noqa: F401  (a missing module is a failure)
    res = run("show", trace_file)
    assert res.exit_code == 0 and "t0" in res.stdout and "t1" in res.stdout
    out = tmp_path / "t.html"
    res = run("show", trace_file, "--html", str(out))
    assert res.exit_code == 0 and res.stdout.strip() == f"wrote {out}"
    assert out.read_text().lstrip().lower().startswith("<!doctype html")
    assert_usage_error(run("show", trace_file, "--html", str(tmp_path / "no" / "dir.html")), "cannot write")


def test_minimize_writes_a_replayable_trace(trace_file, tmp_path):
    import checker.minimize  # noqa: F401  (a missing module is a failure)
    out = tmp_path / "small.json"
    res = run("minimize", trace_file, "-o", str(out), "--time-limit", "20")
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("minimised: preemptions ") and f"wrote {out}" in res.stdout
    assert run("replay", str(out)).exit_code == 1


def test_check_minimises_by_default(tmp_path):
    import checker.minimize  # noqa: F401  (a missing module is a failure)
    res = run("check", "--mutation", "nolock", "--scenario", "pair", "--scheduler", "dfs",
              "--out", str(tmp_path))
    assert res.exit_code == 1, res.output
    assert "  minimised: preemptions " in res.stdout
    [f] = tmp_path.glob("*.json")
    assert run("replay", str(f)).exit_code == 1


def test_trace_is_saved_before_the_violation_is_printed(tmp_path, monkeypatch):
    import checker.trace as tr
    printed_at_save = []
    real = tr.save_trace

    def spy(trace, out_dir, name=None):
        report = getattr(sys.stdout, "report", sys.stdout)   # during a check, sys.stdout is the model's
        report.flush()
        printed_at_save.append(report.buffer.getvalue().decode())
        return real(trace, out_dir, name)
    monkeypatch.setattr(tr, "save_trace", spy)
    res = run("check", "--mutation", "nolock", "--scenario", "pair", "--scheduler", "dfs",
              "--out", str(tmp_path), "--no-minimize")
    assert res.exit_code == 1 and len(printed_at_save) == 1
    assert printed_at_save[0].startswith("zsmc check:") and "violation" not in printed_at_save[0].lower()


def test_a_failed_minimisation_keeps_the_trace_as_found(tmp_path, monkeypatch):
    import checker.trace  # noqa: F401  (a missing module is a failure)
    fake = types.ModuleType("checker.minimize")

    def minimize_trace(trace, time_limit=30.0):
        assert time_limit == cli_session.CHECK_MINIMIZE_TIME
        raise UsageError("z3 gave up")
    fake.minimize_trace = minimize_trace
    monkeypatch.setitem(sys.modules, "checker.minimize", fake)
    res = run("check", "--mutation", "nolock", "--scenario", "pair", "--scheduler", "dfs",
              "--out", str(tmp_path))
    assert res.exit_code == 1, res.output
    assert "  not minimised: z3 gave up" in res.stdout
    [f] = tmp_path.glob("*.json")
    assert run("replay", str(f)).exit_code == 1


def test_minimisation_budget_follows_the_time_limit(monkeypatch):
    monkeypatch.setattr(cli_session.time, "monotonic", lambda: 100.0)
    assert cli_session._minimize_budget(None) == cli_session.CHECK_MINIMIZE_TIME
    assert cli_session._minimize_budget(103.0) == 3.0
    assert cli_session._minimize_budget(99.0) == 1.0  # a found violation is always minimised a little
    assert cli_session._minimize_budget(1000.0) == cli_session.CHECK_MINIMIZE_TIME


def test_sampled_search_is_never_verified_and_prints_its_seed():
    from checker.schedulers import SCHEDULERS
    assert "random" in SCHEDULERS
    res = run("check", "--variant", "upstream", "--scenario", "pair", "--scheduler", "random", "--seed", "7")
    assert res.exit_code == 3, res.output
    assert res.stdout.splitlines()[0].endswith("scheduler random, seed 7")
    assert "result: incomplete, not verified" in res.stdout


def test_doc_line_is_the_first_sentence_on_one_line():
    class V:
        """Linux 6.15 (c): ``struct zspage_lock`` (spinlock + counter), obj_read API,
        ``pool->lock`` rwlock.  Writers only trylock.

        Details nobody lists."""
    assert cli_format.doc_line(V) == ("Linux 6.15 (c): struct zspage_lock (spinlock + counter), "
                                      "obj_read API, pool->lock rwlock.")
    assert cli_format.doc_line(type("Bare", (), {})) == "(no description)"
