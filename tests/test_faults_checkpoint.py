"""Fault injection on checkpoints, budgets and output files (red team round 4):
a resumed checkpoint keeps the violation it holds, a damaged or forged one is
refused, ``--checkpoint`` never replaces what is not a checkpoint, huge time
limits and the Hypothesis search's budgets."""

from __future__ import annotations

import json
import os

import pytest

try:
    from tests import faults as F
except ImportError:  # tests/ on sys.path instead of the rootdir
    import faults as F

FAST = ("--scenario", "clients")
# The mutation's own property (with every property the unlocked lookup races first).
BUG = ("--mutation", "free-without-pool-lock", "--scenario", "read-migrate", "--cpus", "2",
       "--property", "data-integrity")


# -------------------------------------------------------------------- a resumed violation
@pytest.fixture(scope="module")
def bug_checkpoint(tmp_path_factory):
    """A checkpoint of a run that found a violation (its subtree is saved, the later ones skipped)."""
    d = tmp_path_factory.mktemp("ckbug")
    res = F.run("check", *BUG, "--checkpoint", d / "ck", "--out", d / "out", "--no-minimize")
    assert res.exit_code == 1, res.stdout + res.stderr
    doc = json.loads((d / "ck").read_text())
    assert any(out["result"]["violations"] for out in doc["done"].values())
    return doc


def test_a_resumed_checkpoint_reports_the_violation_it_holds(bug_checkpoint, tmp_path):
    ck = tmp_path / "ck"
    ck.write_text(json.dumps(bug_checkpoint))
    res = F.run("check", *BUG, "--resume", ck, "--out", tmp_path / "out", "--no-minimize")
    assert res.exit_code == 1, res.stdout + res.stderr
    assert "result: VIOLATION" in res.stdout and "data-integrity" in res.stdout
    [trace] = F.traces_in(tmp_path / "out")
    again = F.run("replay", trace)
    assert again.exit_code == 1, again.stdout


def test_a_resumed_violation_does_not_run_the_subtrees_after_it(bug_checkpoint, tmp_path):
    """The subtrees a stop at the first violation skipped stay skipped: the violation's
    subtree is the first one in plan order with one, as in the run that saved it."""
    ck = tmp_path / "ck"
    ck.write_text(json.dumps(bug_checkpoint))
    res = F.run("check", *BUG, "--resume", ck, "--checkpoint", ck, "--out", tmp_path / "out",
                "--no-minimize", "--format", "json")
    assert res.exit_code == 1, res.stdout + res.stderr
    [scenario] = json.loads(res.stdout)["scenarios"]
    assert len(scenario["violations"]) == 1
    assert json.loads(ck.read_text())["done"].keys() == bug_checkpoint["done"].keys()


def test_a_resumed_violation_with_earlier_subtrees_to_do_still_reports_it(bug_checkpoint, tmp_path):
    """The violation's subtree is saved but an earlier one is not (an interrupted --jobs run):
    the earlier one runs, and the saved violation is reported unless it finds one itself."""
    doc = dict(bug_checkpoint)
    bad = min(int(k) for k, out in doc["done"].items() if out["result"]["violations"])
    doc["done"] = {k: v for k, v in doc["done"].items() if int(k) != 0 or bad == 0}
    ck = tmp_path / "ck"
    ck.write_text(json.dumps(doc))
    res = F.run("check", *BUG, "--resume", ck, "--out", tmp_path / "out", "--no-minimize")
    assert res.exit_code == 1, res.stdout + res.stderr
    assert "result: VIOLATION" in res.stdout


# -------------------------------------------------------------------- a damaged checkpoint
@pytest.fixture(scope="module")
def clean_checkpoint(tmp_path_factory):
    """A finished checkpoint of ``--scenario clients`` (4 disjoint subtrees)."""
    d = tmp_path_factory.mktemp("ck")
    res = F.run("check", *FAST, "--checkpoint", d / "ck", "--out", d / "out")
    assert res.exit_code == 0, res.stderr
    doc = json.loads((d / "ck").read_text())
    assert len(doc["plan"]) > 1 and all(entry[3] for entry in doc["plan"])
    return doc


INF = "__INFINITY__"        # written as the JSON number 1e999, which Python reads as inf


def _first(doc, **result):
    """``doc`` with the first finished subtree's result fields replaced."""
    k = sorted(doc["done"], key=int)[0]
    out = dict(doc["done"][k], result=dict(doc["done"][k]["result"], **result))
    return dict(doc, done=dict(doc["done"], **{k: out}))


def _forged(doc, count=1):
    v = {"property": "bug", "message": "m", "step": 0, "task": None, "schedule": [[0, "malloc"]],
         "steps": [], "involved": [], "execution": 0, "tasks": [], "runs": []}
    return _first(doc, violations=[v], violation_count=count)


DAMAGED = [
    ("plan empty", lambda d: dict(d, plan=[], done={}), "plan"),
    ("plan cut short", lambda d: dict(d, plan=d["plan"][:1], done={"0": d["done"]["0"]}), "split"),
    ("plan with a subtree twice", lambda d: dict(d, plan=d["plan"] + d["plan"][:1]), "plan"),
    ("plan renumbered", lambda d: dict(d, plan=[[len(d["plan"]) - 1 - e[0]] + e[1:] for e in d["plan"]]),
     "index"),
    ("plan of another prefix", lambda d: dict(d, plan=[[0] + d["plan"][1][1:]] + d["plan"][1:]), "split"),
    ("plan index infinite", lambda d: dict(d, plan=[[INF] + d["plan"][0][1:]] + d["plan"][1:]), "index"),
    ("negative executions", lambda d: _first(d, executions=-983), "executions"),
    ("boolean executions", lambda d: _first(d, executions=True), "executions"),
    ("float executions", lambda d: _first(d, executions=3.0), "executions"),
    ("string executions", lambda d: _first(d, executions="3"), "executions"),
    ("infinite executions", lambda d: _first(d, executions=INF), "executions"),
    ("huge executions", lambda d: _first(d, executions=10 ** 100), "executions"),
    ("infinite steps", lambda d: _first(d, steps=INF), "steps"),
    ("complete as a string", lambda d: _first(d, complete="false"), "complete"),
    ("elapsed infinite", lambda d: _first(d, elapsed=INF), "elapsed"),
    ("infinite trace key", lambda d: dict(d, done={k: dict(v, keys=[[INF, True]])
                                                   for k, v in d["done"].items()}), "key"),
    ("trace keys on a disjoint subtree", lambda d: dict(d, done={k: dict(v, keys=[[12345, False]])
                                                                 for k, v in d["done"].items()}), "disjoint"),
    ("subtree key not an index", lambda d: dict(d, done={" 0" if k == "0" else k: v
                                                         for k, v in d["done"].items()}), "index"),
    ("coverage count negative", lambda d: _first(d, coverage={"fn:zs_free": -1}), "coverage"),
    ("coverage missing", lambda d: dict(d, done={k: dict(v, result={x: y for x, y in v["result"].items()
                                                                     if x != "coverage"})
                                                 for k, v in d["done"].items()}), "coverage"),
    ("races a string", lambda d: _first(d, races="0"), "races"),
    ("forged violation", _forged, "not reproduced"),
    ("forged violation, no count", lambda d: _forged(d, count=0), "violation_count"),
]


@pytest.mark.parametrize("name,change,words", DAMAGED, ids=[c[0] for c in DAMAGED])
def test_a_damaged_checkpoint_is_refused(name, change, words, clean_checkpoint, tmp_path):
    ck = tmp_path / "ck"
    ck.write_text(json.dumps(change(clean_checkpoint)).replace(f'"{INF}"', "1e999"))
    res = F.run("check", *FAST, "--resume", ck, "--out", tmp_path / "out")
    assert res.exit_code == 2, res.stdout + res.stderr
    F.one_line(res.stderr, "damaged checkpoint", words)
    assert res.stdout == ""             # refused before the report's header, as any bad input


def test_the_clean_checkpoint_still_resumes(clean_checkpoint, tmp_path):
    ck = tmp_path / "ck"
    ck.write_text(json.dumps(clean_checkpoint))
    res = F.run("check", *FAST, "--resume", ck, "--out", tmp_path / "out")
    assert res.exit_code == 0, res.stdout + res.stderr


def test_a_depth_cut_checkpoint_must_hold_the_whole_cut(tmp_path):
    """A cut by depth (overlapping subtrees, trace keys) is recomputed at the depth of its
    longest prefix: the checkpoint resumes whole, and refuses a plan with a subtree left out."""
    from checker.errors import UsageError
    from checker.parallel import explore_split
    from model.registry import make_build, variant_for
    build, _ = make_build(variant_for("upstream", None), "read-migrate", 1)
    ck = tmp_path / "ck"
    whole = explore_split(build, jobs=1, split_depth=2, checkpoint=str(ck))
    doc = json.loads(ck.read_text())
    assert not any(entry[3] for entry in doc["plan"]) and len(doc["plan"]) > 2
    again = explore_split(build, jobs=1, split_depth=2, resume=str(ck))
    assert again.complete and again.executions == whole.executions
    short = dict(doc, plan=doc["plan"][:-1], done={k: v for k, v in doc["done"].items()
                                                   if int(k) < len(doc["plan"]) - 1})
    ck.write_text(json.dumps(short))
    with pytest.raises(UsageError, match="damaged checkpoint.*split"):
        explore_split(build, jobs=1, split_depth=2, resume=str(ck))


# -------------------------------------------------------------------- a huge time limit
@pytest.mark.parametrize("extra", [[], ["--jobs", "2"], ["--scheduler", "random", "--executions", "5"],
                                   ["--preemption-bound", "1"]], ids=["dpor", "jobs", "random", "bounded"])
@pytest.mark.parametrize("limit", ["1e10", "1e300"])
def test_a_huge_time_limit_is_no_limit_not_an_internal_bug(limit, extra, tmp_path):
    # A process of its own: a watchdog that failed half-armed leaves its SIGALRM handler behind,
    # which would keep the next test's watchdog from arming (and from failing).
    rc, out, err = F.finish(F.spawn("check", *FAST, "--time-limit", limit, *extra, "--out", tmp_path / "out"))
    assert "internal bug" not in err, err
    assert rc == (3 if "random" in extra else 0), out + err


def test_the_watchdog_is_not_armed_beyond_what_its_timer_holds():
    import math
    import signal
    import time

    from checker.budget import WATCHDOG_MAX, Watchdog
    for deadline in (time.perf_counter() + 1e10, math.inf, time.perf_counter() + WATCHDOG_MAX * 2):
        dog = Watchdog(deadline)
        assert not dog.armed
        dog.cancel()
    dog = Watchdog(time.perf_counter() + 60)
    assert dog.armed and 0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 61
    dog.cancel()
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0


def test_the_engine_takes_an_infinite_time_limit_as_none():
    import math

    from checker import explore
    from model.registry import make_build, variant_for
    build, _ = make_build(variant_for("upstream", None), "clients", 1)
    r = explore(build, scheduler="dpor", time_limit=math.inf)
    assert r.complete and r.executions > 0


pytest_plugins = ["pytester"]


def test_the_plugin_refuses_an_infinite_time_limit_and_takes_a_huge_one(pytester):
    import importlib.metadata
    installed = any(ep.name == "zsmc" for ep in importlib.metadata.entry_points(group="pytest11"))
    plugin = [] if installed else ["-p", "pytest_zsmc"]
    pytester.makepyfile(test_huge="""
        import pytest
        from model.registry import make_build, variant_for

        @pytest.mark.zsmc(time_limit=1e10)
        def test_huge(zsmc_check):
            build, _ = make_build(variant_for("upstream", None), "clients", 1)
            assert zsmc_check(build).complete
        """)
    args = (*plugin, "-p", "no:cacheprovider", "-p", "no:hypothesispytest")
    pytester.runpytest_inprocess(*args).assert_outcomes(passed=1)
    pytester.runpytest_inprocess(*args, "--zsmc-time-limit=1e300").assert_outcomes(passed=1)
    res = pytester.runpytest_inprocess(*args, "--zsmc-time-limit=inf")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert "--zsmc-time-limit must be a positive number of seconds (finite)" in "\n".join(res.errlines)


# -------------------------------------------------------------------- what --checkpoint may replace
def _not_checkpoints(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("a user's notes\n")
    trace = tmp_path / "trace.json"
    trace.write_text(json.dumps({"format": "zsmc-trace", "version": 2}))
    empty = tmp_path / "empty"
    empty.write_text("")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    link.symlink_to(text)
    return {"a text file": (text, "not a zsmc checkpoint"), "a trace": (trace, "not a zsmc checkpoint"),
            "an empty file": (empty, "not a zsmc checkpoint"), "a FIFO": (fifo, "a FIFO"),
            "a symbolic link": (link, "a symbolic link")}


@pytest.mark.parametrize("what", ["a text file", "a trace", "an empty file", "a FIFO", "a symbolic link"])
def test_checkpoint_refuses_to_replace_what_is_not_a_checkpoint(what, tmp_path):
    path, words = _not_checkpoints(tmp_path)[what]
    before = {p.name: (p.lstat().st_mode, p.read_bytes() if p.is_file() and not p.is_symlink() else None)
              for p in tmp_path.iterdir()}
    res = F.run("check", *FAST, "--checkpoint", path, "--out", tmp_path / "out")
    assert res.exit_code == 2, res.stdout + res.stderr
    F.one_line(res.stderr, "--checkpoint", words, "refusing")
    assert "result:" not in res.stdout and not (tmp_path / "out").exists()      # refused before searching
    after = {p.name: (p.lstat().st_mode, p.read_bytes() if p.is_file() and not p.is_symlink() else None)
             for p in tmp_path.iterdir()}
    assert after == before                   # nothing replaced, no lock file made


def test_checkpoint_replaces_an_earlier_checkpoint(clean_checkpoint, tmp_path):
    ck = tmp_path / "ck"
    ck.write_text(json.dumps(dict(clean_checkpoint, search="another search")))
    res = F.run("check", *FAST, "--checkpoint", ck, "--out", tmp_path / "out")
    assert res.exit_code == 0, res.stdout + res.stderr
    assert json.loads(ck.read_text())["search"] == clean_checkpoint["search"]


def test_a_fifo_lock_file_is_refused(tmp_path):
    os.mkfifo(tmp_path / "ck.lock")
    res = F.run("check", *FAST, "--checkpoint", tmp_path / "ck", "--out", tmp_path / "out")
    assert res.exit_code == 2
    F.one_line(res.stderr, "lock file", "a FIFO")
    assert not (tmp_path / "ck").exists()


def test_a_checkpoint_that_became_a_fifo_during_the_search_is_not_replaced(monkeypatch, tmp_path):
    """Checked again when each subtree is saved: the search goes on, the note says it was not saved."""
    import checker.checkpoint as ck
    real = ck.save
    path = tmp_path / "ck"

    def swapped(p, *a):
        if not path.exists():
            os.mkfifo(path)         # someone put a FIFO there after the check before the search
        return real(p, *a)
    monkeypatch.setattr(ck, "save", swapped)
    res = F.run("check", *FAST, "--checkpoint", path, "--out", tmp_path / "out")
    assert res.exit_code == 0, res.stdout + res.stderr
    assert "checkpoint not saved" in res.stdout and "a FIFO" in res.stdout
    assert path.is_fifo()


@pytest.mark.parametrize("option", ["--checkpoint", "--resume"])
def test_an_empty_checkpoint_name_is_refused(option, tmp_path):
    res = F.run("check", *FAST, option, "", "--out", tmp_path / "out")
    assert res.exit_code == 2, res.stdout + res.stderr
    F.one_line(res.stderr, option, "empty")


def test_resume_refuses_a_fifo_without_blocking_on_it(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    res = F.run("check", *FAST, "--resume", tmp_path / "fifo", "--out", tmp_path / "out")
    assert res.exit_code == 2
    F.one_line(res.stderr, "--resume", "not a regular file")


def test_the_engine_refuses_an_empty_checkpoint_name_too(tmp_path):
    from checker.errors import UsageError
    from checker.parallel import explore_split
    from model.registry import make_build, variant_for
    build, _ = make_build(variant_for("upstream", None), "clients", 1)
    for kw in ({"checkpoint": ""}, {"resume": ""}):
        with pytest.raises(UsageError, match="empty"):
            explore_split(build, jobs=1, **kw)
    (tmp_path / "notes").write_text("mine")
    with pytest.raises(UsageError, match="not a zsmc checkpoint"):
        explore_split(build, jobs=1, checkpoint=str(tmp_path / "notes"))
    assert (tmp_path / "notes").read_text() == "mine"


# -------------------------------------------------------------------- the Hypothesis search's budgets
HYP = ("--scenario", "malloc-free", "--cpus", "2", "--scheduler", "hypothesis")


def test_hypothesis_honours_max_executions(tmp_path):
    res = F.run("check", *HYP, "--max-executions", "3", "--format", "json", "--out", tmp_path / "out")
    assert res.exit_code == 3, res.stdout + res.stderr
    [s] = json.loads(res.stdout)["scenarios"]
    assert s["executions"] == 3 and not s["complete"]
    assert s["reason"].startswith("execution budget of 3 reached"), s["reason"]


def test_hypothesis_honours_the_time_limit(tmp_path):
    import time
    began = time.monotonic()
    res = F.run("check", *HYP, "--time-limit", "1", "--format", "json", "--out", tmp_path / "out")
    assert time.monotonic() - began < 6          # about 20 s without the limit
    assert res.exit_code == 3, res.stdout + res.stderr
    [s] = json.loads(res.stdout)["scenarios"]
    assert s["reason"].startswith("time limit of 1s reached"), s["reason"]


def test_the_state_machine_search_stops_at_its_budgets():
    from model.registry import VERSIONS
    from model.stateful_search import search
    result, _, v = search(VERSIONS["legacy"], "read-compact", max_examples=200, database=False,
                          max_executions=2)
    assert v is None and result.executions == 2 and not result.complete
    assert result.reason.startswith("execution budget of 2 reached")
    result, _, v = search(VERSIONS["legacy"], "read-compact", max_examples=200, database=False,
                          time_limit=0.5)
    assert v is None and result.elapsed < 3 and result.reason.startswith("time limit of 0.5s reached")


def test_the_state_machine_reports_a_failure_whose_shrinking_the_time_limit_cut(tmp_path):
    """free-without-page-locks on ``large`` is found in a few examples and shrunk for seconds:
    a limit of a second cuts the shrinking (about 2 s idle, 7 s at load 6), and the failure
    seen last is reported (half a second did not always reach the first one under load)."""
    from checker.trace import make_trace, replay
    from model.registry import variant_for
    from model.stateful_program import LOADER
    from model.stateful_search import search
    cls = variant_for("upstream", "free-without-page-locks")
    result, params, v = search(cls, "large", database=False, time_limit=1.0)
    assert v is not None and v.property == "bug" and result.violations == [v]
    assert "cut short by the time limit" in result.reason and result.elapsed < 4
    assert replay(make_trace(v, {"loader": LOADER, "params": params})).reproduced


def test_the_drawn_schedule_search_stops_at_its_budgets():
    """checker.hypothesis_search (a registry without a state machine): the same budgets."""
    import time

    from hypothesis import strategies as st

    from checker import Program, Task, label
    from checker.hypothesis_search import hypothesis_search

    def build_for(data):
        n = data.draw(st.integers(1, 3))

        def build():
            def task():
                for _ in range(n):
                    yield label("step")
            return Program([Task(task, "t0"), Task(task, "t1")], cpus=2)
        return build
    out = hypothesis_search(build_for, max_examples=100, database=False, max_executions=4)
    assert out.examples == 4 and out.result.reason.startswith("execution budget of 4 reached")
    slow = []

    def slow_build_for(data):
        slow.append(1)
        time.sleep(0.2)
        return build_for(data)
    began = time.perf_counter()
    out = hypothesis_search(slow_build_for, max_examples=100, database=False, time_limit=0.5)
    assert time.perf_counter() - began < 2 and len(slow) < 10
    assert out.result.reason.startswith("time limit of 0.5s reached")


# -------------------------------------------------------------------- --jobs over several scenarios
def test_pooled_jobs_keep_the_time_limit_at_depth_3(tmp_path):
    """Weighing the scenarios before the pooled search (an explore of each at depth 1) took
    7 s of a 1 s limit, 22 s at --depth 3 (once per depth), with 0 executions to show."""
    import time
    began = time.monotonic()
    rc, out, err = F.finish(F.spawn("check", "--jobs", "2", "--time-limit", "1", "--depth", "3", "-q",
                                    "--out", tmp_path / "out"))
    took = time.monotonic() - began
    assert rc == 3, out + err
    assert "result: incomplete" in out and took < 8, took


class _Plan:
    def __init__(self):
        from model import registry
        self.reg, self.cls, self.cpus = registry, registry.variant_for("upstream", None), None

    @staticmethod
    def kw_of(params):
        return {}


def _builds(names, depth=1):
    from cli.plan import Build
    from model import registry
    cls = registry.variant_for("upstream", None)
    return [Build(n, *registry.make_build(cls, n, depth, 2)) for n in names]


def test_weighing_respects_the_deadline_and_is_done_once_per_check(monkeypatch):
    import time

    import checker
    from cli.strategies import Budget, Pooled
    calls = []
    real = checker.explore

    def counting(build, **kw):
        calls.append(kw.get("time_limit"))
        return real(build, **kw)
    monkeypatch.setattr(checker, "explore", counting)
    pooled = Pooled(_Plan())
    spent = Budget(1.0, time.monotonic() - 1, None)           # nothing left
    assert pooled.weigh(_builds(["clients", "malloc-free"]), spent) == [0, 0] and calls == []
    budget = Budget.start(100.0, None)
    first = pooled.weigh(_builds(["clients", "malloc-free"]), budget)
    assert len(calls) == 2 and all(0 < t <= 100.0 * Pooled.WEIGH_SHARE for t in calls)
    assert first[0] > 0 and first[1] > 0
    again = pooled.weigh(_builds(["clients", "malloc-free"], depth=2), budget)   # the next depth's pass
    assert again == first and len(calls) == 2


# -------------------------------------------------------------------- what a resumed check judges
def test_a_resumed_check_keeps_the_coverage_of_its_saved_subtrees(tmp_path):
    """The changed code's coverage (exit 5, 'never ran') is judged on the saved subtrees too:
    without it, every resumed check of a variant said its changed function never ran."""
    args = ("check", "--mutation", "free-without-pool-lock", "--scenario", "malloc-free", "--cpus", "1",
            "--out", tmp_path / "out", "--format", "json")
    ck = tmp_path / "ck"
    first = F.run(*args, "--checkpoint", ck)
    assert first.exit_code == 0, first.stdout + first.stderr
    again = F.run(*args, "--resume", ck)
    assert again.exit_code == 0, again.stdout + again.stderr
    a, b = (json.loads(r.stdout) for r in (first, again))
    assert b["never_ran"] == [] and b["scenarios"][0]["coverage"] == a["scenarios"][0]["coverage"]


def test_a_checkpoint_of_version_2_is_refused_by_name(clean_checkpoint, tmp_path):
    ck = tmp_path / "ck"
    ck.write_text(json.dumps(dict(clean_checkpoint, version=2)))
    res = F.run("check", *FAST, "--resume", ck, "--out", tmp_path / "out")
    assert res.exit_code == 2
    F.one_line(res.stderr, "checkpoint version 2", "reads version 3")


@pytest.mark.parametrize("spent", [True, False])
def test_a_flaky_replay_is_the_budget_s_doing_once_it_is_spent(spent, monkeypatch):
    """Hypothesis's Flaky (the same draws ran differently) after the budget was spent is the
    budget cutting an example short (seen once in CI: shrinking under a one-second limit on a
    loaded machine), reported as the limit; before it, a variant that keeps state."""
    from hypothesis.errors import Flaky

    from checker import UsageError
    from model import stateful_search as ss
    from model.registry import VERSIONS

    real = ss.Budget.check

    def check(self, machine, starting):
        if machine.examples >= 2:
            if spent:
                self.why = "time"
            raise Flaky("replayed differently")
        return real(self, machine, starting)

    monkeypatch.setattr(ss.Budget, "check", check)
    if spent:
        result, _, v = ss.search(VERSIONS["legacy"], "read-compact", database=False, time_limit=60)
        assert v is None and not result.complete and result.reason.startswith("time limit of 60s reached")
    else:
        with pytest.raises(UsageError, match="does the variant keep state between executions"):
            ss.search(VERSIONS["legacy"], "read-compact", database=False, time_limit=60)
