"""Trace files (issue 5): what a trace holds, how it is written, and every way loading refuses one."""

from __future__ import annotations

import json

import pytest

import checker
from checker.errors import UsageError
from checker.trace import FORMAT, VERSION, check_trace, load_trace, make_trace, save_trace

try:
    from tests import trace_programs as tp
except ImportError:  # tests/ on sys.path instead of the rootdir
    import trace_programs as tp

LOST = {"program": "lost-update", "noise": 2}


@pytest.fixture(scope="module")
def trace():
    v = tp.find_violation(LOST, "bug", seeds=range(40))
    return make_trace(v, tp.program(LOST), meta={"command": "test"})


def test_trace_holds_everything_needed_to_replay_and_read(trace):
    assert trace["format"] == FORMAT == "zsmc-trace" and trace["version"] == VERSION == 2
    assert "runs" not in trace          # one execution is enough for this violation
    assert trace["zsmc"] == checker.__version__
    assert trace["program"] == {"loader": tp.LOADER, "params": LOST}
    assert trace["expect"] == "violation" and trace["meta"] == {"command": "test"}
    viol = trace["violation"]
    assert viol["property"] == "bug" and "lost update" in viol["message"]
    assert viol["task"] == "C"
    # One schedule entry and one event per step, up to and including the violating step.
    assert len(trace["schedule"]) == len(trace["events"]) == viol["step"] + 1
    assert [t["name"] for t in trace["tasks"]] == ["A", "B", "C", "N"]
    last = trace["events"][-1]
    assert last["name"] == "C" and last["op"] == "read" and last["obj"] == "x" and last["result"] == 1
    # The stats agree with the per-event flags.
    assert trace["stats"]["steps"] == len(trace["events"])
    assert trace["stats"]["preemptions"] == sum(1 for e in trace["events"] if e.get("preemption"))
    assert trace["stats"]["preemptions"] >= 1


def test_lock_events_carry_kind_and_mode():
    v = tp.find_violation({"program": "locks"}, "bug", seeds=range(300))
    tr = make_trace(v, tp.program({"program": "locks"}))
    locks = [e for e in tr["events"] if "lock" in e]
    assert {e["lock"] for e in locks} <= {"mutex", "spinlock_t"} and locks
    assert all(e["op"] in ("acquire", "trylock", "release") for e in locks)
    labels = [e["label"] for e in tr["events"] if e["op"] == "label"]
    assert "zs_free" in labels


def test_save_then_load_round_trips(tmp_path, trace):
    path = save_trace(trace, str(tmp_path / "out"))
    assert path.endswith(".json") and path.startswith(str(tmp_path / "out"))
    assert load_trace(path) == json.loads(json.dumps(trace))
    # The default name is stable for the same program and schedule.
    assert save_trace(trace, str(tmp_path / "out")) == path
    named = save_trace(trace, str(tmp_path), name="mine")
    assert named == str(tmp_path / "mine.json")


def test_saved_file_has_one_line_per_step(tmp_path, trace):
    with open(save_trace(trace, str(tmp_path))) as f:
        text = f.read()
    lines = text.splitlines()
    assert sum(1 for line in lines if line.lstrip().startswith('{"i":')) == len(trace["events"])
    assert sum(1 for line in lines if line.lstrip().startswith("[") and line.rstrip(",").endswith("]")
               and line.strip() != "[") >= len(trace["schedule"])


def _write(tmp_path, data, name="t.json"):
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(p)


@pytest.mark.parametrize("mutate, message", [
    (lambda t: t.update(format="something-else"), "is not a zsmc trace (format 'something-else'"),
    (lambda t: t.update(version=4), "version 4; zsmc"),
    (lambda t: t.update(version=True), "version True; zsmc"),
    (lambda t: t.pop("schedule"), "has no 'schedule' field"),
    (lambda t: t.pop("program"), "has no 'program' field"),
    (lambda t: t.update(expect="maybe"), "'expect' must be one of"),
    (lambda t: t.update(schedule=[["A", None]]), "'schedule' must be a list of [task index, choice] pairs"),
    (lambda t: t.update(program={"loader": 3}), "'program' must be"),
    (lambda t: t["violation"].pop("step"), "'violation' needs a string 'property' and an integer 'step'"),
])
def test_load_refuses_bad_traces_with_one_line(tmp_path, trace, mutate, message):
    bad = json.loads(json.dumps(trace))
    mutate(bad)
    with pytest.raises(UsageError) as err:
        load_trace(_write(tmp_path, bad))
    text = str(err.value)
    assert message in text and "\n" not in text


def test_load_refuses_non_json_and_missing_files(tmp_path):
    with pytest.raises(UsageError, match=r"is not a zsmc trace: not valid JSON") as err:
        load_trace(_write(tmp_path, "{not json"))
    assert "\n" not in str(err.value)
    with pytest.raises(UsageError, match="is not a zsmc trace"):
        load_trace(_write(tmp_path, [1, 2, 3]))
    with pytest.raises(UsageError, match="cannot read trace"):
        load_trace(str(tmp_path / "missing.json"))


def test_check_trace_accepts_a_made_trace(trace):
    check_trace(trace)  # raises if not


def test_make_trace_validates_its_arguments(trace):
    v = tp.find_violation(LOST, "bug", seeds=range(40))
    with pytest.raises(UsageError, match="expect must be one of"):
        make_trace(v, tp.program(LOST), expect="sometimes")
    with pytest.raises(UsageError, match="'program' must be"):
        make_trace(v, {"params": {}})


def test_make_trace_never_raises_when_the_loader_fails():
    v = tp.find_violation(LOST, "bug", seeds=range(40))
    tr = make_trace(v, {"loader": "no_such_module_zsmc:load", "params": {}})
    # Written anyway, with the events of the search and a note saying why.
    assert "not a registered loader" in tr["meta"]["note"]
    assert len(tr["events"]) == v.step + 1 and tr["events"][-1]["op"] == "read"
