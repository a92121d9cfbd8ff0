"""Fault injection, round 7 (files from others, budgets): round 6's leftovers, then
traces and variant files as others write them, budgets at their edges.

As in tests/test_faults.py, every case asserts the exit code, what was said (one
``zsmc: error:`` line, never a traceback, or the report) and that nothing was lost.
docs/cli.md, "Red team round 7", has the table of attempts, before and after.
Small scenarios only: the whole module runs in well under a minute.
"""

from __future__ import annotations

import copy
import importlib.metadata
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

try:
    from tests import faults as F
except ImportError:  # tests/ on sys.path instead of the rootdir
    import faults as F

pytest_plugins = ["pytester"]
PLUGIN = [] if any(ep.name == "zsmc" for ep in importlib.metadata.entry_points(group="pytest11")) \
    else ["-p", "pytest_zsmc"]
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GOOD = os.path.join(HERE, "counterexamples", "free-drops-pool-lock-early.json")
SMALL = ("--scenario", "malloc-free", "--cpus", "2", "--quick")


def _write(path, text):
    path.write_text(text)
    return str(path)


def _variant(tmp_path, body, name="v.py"):
    return _write(tmp_path / name, "import os, posix, sys\nfrom checker import label\n"
                  "from model import Upstream\n" + body) + ":V"


def _proc(*args, timeout=60):
    """zsmc as a process of its own (what the interpreter itself prints is seen)."""
    return subprocess.run([sys.executable, "-m", "cli", *map(str, args)], check=False, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": ROOT})


@pytest.fixture
def trace_doc():
    with open(GOOD, encoding="utf-8") as f:
        return json.load(f)


def _params(doc, **change):
    doc = copy.deepcopy(doc)
    doc["program"]["params"].update(change)
    return doc


STATEFUL = {"format": 1, "program": "stateful", "variant": "upstream", "mutation": "compact-keeps-src",
            "scenario": "large:classes=1,zspages=3,objects=0,tasks=1", "cpus": 1, "workers": 2}


# -------------------------------------------------------------------- 1a. a trace's numbers bounded as the options are
BOUNDS = [
    ("depth 51", {"depth": 51}, "depth must be at most 50 (as --depth)"),
    ("depth 10**9", {"depth": 10 ** 9}, "depth must be at most 50"),
    ("depth of 400 digits", {"depth": 10 ** 400}, "depth must be at most 50"),
    ("cpus 65", {"cpus": 65}, "cpus must be at most 64 (as --cpus)"),
    ("cpus 10**9", {"cpus": 10 ** 9}, "cpus must be at most 64"),
    ("depth -5", {"depth": -5}, "positive integer"),
    ("cpus 0", {"cpus": 0}, "needs at least 1 CPU"),
]


@pytest.mark.parametrize("cmd", ["replay", "minimize"])
@pytest.mark.parametrize("name,change,words", BOUNDS, ids=[b[0] for b in BOUNDS])
def test_a_trace_s_depth_and_cpus_are_bounded_as_the_options_are(cmd, name, change, words, trace_doc, tmp_path):
    # Before: depth 51 or 10**9 and cpus 65 or 10**9 replayed (the recorded execution, in a
    # program the command line refuses to build) and minimize wrote them to a new trace.
    f = _write(tmp_path / "t.json", json.dumps(_params(trace_doc, **change)))
    res = F.run(cmd, f)
    assert res.exit_code == 2, (res.exit_code, res.stdout)
    F.one_line(res.stderr, words)
    assert not (tmp_path / "t.min.json").exists()


@pytest.mark.parametrize("cpus,words", [(10 ** 9, "cpus must be at most 64"), (65, "at most 64"),
                                        (-1, "positive integer")])
def test_a_state_machine_trace_s_cpus_are_bounded(cpus, words, trace_doc, tmp_path):
    # Before: cpus 10**9 named 2*10**9 tasks before anything was checked: all memory, then
    # "MemoryError" (or the OOM killer).  The state machine's program, same bound.
    doc = copy.deepcopy(trace_doc)
    doc["program"]["params"] = dict(STATEFUL, cpus=cpus)
    f = _write(tmp_path / "t.json", json.dumps(doc))
    res = F.run("replay", f)
    assert res.exit_code == 2, (res.exit_code, res.stdout)
    F.one_line(res.stderr, words)


def test_the_bounds_are_the_command_line_s(trace_doc, tmp_path):
    from checker.budget import MAX_CPUS, MAX_DEPTH
    from cli import params
    assert (params.MAX_DEPTH, params.MAX_CPUS) == (MAX_DEPTH, MAX_CPUS)
    # at the bound itself a trace still loads (it diverges or replays, never "at most")
    f = _write(tmp_path / "t.json", json.dumps(_params(trace_doc, depth=MAX_DEPTH, cpus=MAX_CPUS)))
    res = F.run("replay", f)
    assert "at most" not in res.stderr


# -------------------------------------------------------------------- 1b. interpreter settings changed by a variant
AT_IMPORT = {      # (the test's own stack is deeper than zsmc's: a limit of 50 fails here at once)
    "recursion limit": "sys.setrecursionlimit(sys.getrecursionlimit() // 4)\n",
    "integer string digits": "sys.set_int_max_str_digits(640)\n",
    "thread switch interval": "sys.setswitchinterval(1.0)\n",
}


@pytest.mark.parametrize("what,jobs", [(w, "1") for w in AT_IMPORT] + [("recursion limit", "2")])
def test_a_variant_changing_the_interpreter_at_import_is_one_line_naming_it(what, jobs, tmp_path):
    # Before: sys.setrecursionlimit(50) at import: "[zsmc internal bug] RecursionError" (exit 4).
    before = (sys.getrecursionlimit(), sys.get_int_max_str_digits(), sys.getswitchinterval())
    spec = _variant(tmp_path, AT_IMPORT[what] + "class V(Upstream):\n    '''x'''\n")
    res = F.run("check", "--variant", spec, *SMALL, "--jobs", jobs, "--out", tmp_path / "out")
    assert res.exit_code == 2, (res.exit_code, res.stdout, res.stderr)
    F.one_line(res.stderr, "v.py", f"interpreter's {what}", "remove the call")
    assert (sys.getrecursionlimit(), sys.get_int_max_str_digits(), sys.getswitchinterval()) == before


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_variant_changing_the_recursion_limit_in_a_step_is_a_model_error(jobs, tmp_path):
    # Before: jobs 1 passed (exit 0, zsmc's stack cut to 60 frames for the rest of the
    # search); jobs 2 said "task client0 raised RecursionError".
    spec = _variant(tmp_path, "class V(Upstream):\n    '''x'''\n    def zs_free(self, handle):\n"
                    "        sys.setrecursionlimit(60)\n        yield from Upstream.zs_free(self, handle)\n")
    before = sys.getrecursionlimit()
    res = F.run("check", "--variant", spec, *SMALL, "--jobs", jobs, "--out", tmp_path / "out")
    assert res.exit_code == 2, (res.exit_code, res.stdout, res.stderr)
    F.one_line(res.stderr, "task client", "sys.setrecursionlimit() called by the model")
    assert sys.getrecursionlimit() == before and sys.setrecursionlimit.__module__ == "sys"


def test_a_library_setting_the_recursion_limit_outside_the_model_still_works(tmp_path):
    # Hypothesis raises the limit around its test function: not under a task's step.
    res = F.run("check", "--scenario", "malloc-free", "--scheduler", "hypothesis", "--executions", "5",
                "--seed", "0", "--out", tmp_path)
    assert res.exit_code == 3, (res.stdout, res.stderr)
    assert "incomplete, not verified" in res.stdout


# -------------------------------------------------------------------- 1c. KeyboardInterrupt raised at import
@pytest.mark.parametrize("how", ["file", "module"])
def test_a_variant_raising_keyboardinterrupt_at_import_is_its_error(how, tmp_path, monkeypatch):
    # Before: taken as the user's Ctrl-C: "interrupted: nothing verified", exit 130.
    body = "raise KeyboardInterrupt\nclass V(Upstream):\n    '''x'''\n"
    if how == "file":
        spec = _variant(tmp_path, body)
    else:
        _write(tmp_path / "r7_kbi_variant.py", "from model import Upstream\n" + body)
        monkeypatch.chdir(tmp_path)
        monkeypatch.delitem(sys.modules, "r7_kbi_variant", raising=False)
        spec = "r7_kbi_variant:V"
    res = F.run("check", "--variant", spec, *SMALL, "--out", tmp_path / "out")
    assert res.exit_code == 2, (res.exit_code, res.stderr)
    F.one_line(res.stderr, "raised KeyboardInterrupt at import")


def test_ctrl_c_while_a_variant_imports_is_still_an_interrupt(tmp_path):
    # The variant sends SIGINT to its own process as Ctrl-C would: an interrupt (130).
    spec = _variant(tmp_path, "import signal, time\nos.kill(os.getpid(), signal.SIGINT)\ntime.sleep(5)\n"
                    "class V(Upstream):\n    '''x'''\n")
    res = _proc("check", "--variant", spec, *SMALL, "--out", tmp_path / "out")
    assert res.returncode == 130, res.stderr
    F.one_line(res.stderr, "interrupted: nothing verified")


# -------------------------------------------------------------------- 1d. a task that yields while being closed
# (a `yield` in `finally` does the same, but only at depth 2 here: too slow for this module)
IGNORES_CLOSE = {
    "except GeneratorExit": "        try:\n            yield from Upstream.zs_free(self, handle)\n"
                            "        except GeneratorExit:\n            yield label('not closing')\n",
}


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("how", list(IGNORES_CLOSE))
def test_a_task_yielding_while_closed_is_one_note_not_python_s_noise(how, jobs, tmp_path):
    # Before: "Exception ignored in: <generator object client ...>", a traceback and
    # "RuntimeError: generator ignored GeneratorExit", once per abandoned execution.
    spec = _variant(tmp_path, "class V(Upstream):\n    '''x'''\n    def zs_free(self, handle):\n"
                    + IGNORES_CLOSE[how])
    # Depth 2: depth 1 abandons no execution inside zs_free (the note came from the search
    # for a scenario running the handler, which runs in no execution: round 8 leaves
    # `except GeneratorExit:` out of the lines a check asks to run).
    res = _proc("check", "--variant", spec, *SMALL, "--depth", "2", "--max-executions", "300",
                "--jobs", jobs, "--out", tmp_path / "out", "-q", timeout=240)
    assert "result:" in res.stdout and res.returncode in (0, 1, 3, 5), (res.returncode, res.stderr)
    assert "Exception ignored" not in res.stderr and "Traceback" not in res.stderr, res.stderr
    notes = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert 1 <= len(notes) <= int(jobs) + 1, res.stderr        # once per place, per process
    assert all(n.startswith("zsmc: note: ") and "yields while zsmc closes" in n for n in notes)
    # round 8: the variant's own line (the yield in the handler), not the line of
    # roles.py that delegated to zs_free
    assert all("at V.zs_free (v.py:" in n for n in notes), notes


def test_an_unrelated_unraisable_exception_is_still_printed(tmp_path):
    spec = _variant(tmp_path, "class Noisy:\n    def __del__(self):\n        raise ValueError('in a finaliser')\n"
                    "class V(Upstream):\n    '''x'''\n    def zs_free(self, handle):\n        Noisy()\n"
                    "        yield from Upstream.zs_free(self, handle)\n")
    res = _proc("check", "--variant", spec, "--scenario", "malloc-free", "--cpus", "1", "--quick",
                "--out", tmp_path / "out", "-q")
    assert "ValueError: in a finaliser" in res.stderr


# -------------------------------------------------------------------- 1e. posix.fork() in a --jobs worker
def test_a_worker_s_model_calling_posix_fork_is_named(tmp_path):
    # Before: the worker's forked child was ended, and the check went on: exit 5, its
    # verdict silent about the fork.
    spec = _variant(tmp_path, "COORD = os.getpid()\nclass V(Upstream):\n    '''x'''\n"
                    "    def zs_free(self, handle):\n        if os.getpid() != COORD:\n            posix.fork()\n"
                    "        yield from Upstream.zs_free(self, handle)\n")
    p = F.spawn("check", "--variant", spec, *SMALL, "--jobs", "2", "--out", tmp_path / "out")
    got, out, err = F.finish(p, timeout=60)
    assert got == 2, (got, out[-500:], err[-500:])
    F.one_line(err, "called fork()", "must not fork")
    assert "result:" not in out
    F.no_strays(p)


# ==================================================================== 2. files from others, budgets
def test_a_trace_with_a_byte_order_mark_is_read(tmp_path):
    # Before: "not valid JSON (Unexpected UTF-8 BOM ...)", exit 2: a trace saved by an
    # editor on Windows.  RFC 8259 lets a reader ignore the mark.
    f = tmp_path / "bom.json"
    f.write_bytes(b"\xef\xbb\xbf" + Path(GOOD).read_bytes())
    res = F.run("replay", f)
    assert res.exit_code == 1 and "reproduced" in res.stdout, res.stderr


@pytest.mark.parametrize("how", ["crlf", "extra fields"])
def test_a_trace_re_saved_by_another_tool_still_replays(how, tmp_path):
    # Sound before and after: CRLF line ends; fields a newer writer added.
    text = Path(GOOD).read_text(encoding="utf-8")
    if how == "crlf":
        text = text.replace("\n", "\r\n")
    else:
        doc = json.loads(text)
        doc["written_by"] = {"tool": "other", "version": [1, 2]}
        doc["meta"]["reviewer"] = "someone"
        text = json.dumps(doc)
    f = tmp_path / "t.json"
    f.write_bytes(text.encode("utf-8"))
    res = F.run("replay", f)
    assert res.exit_code == 1 and "reproduced" in res.stdout, res.stderr


def test_a_symlink_loop_trace_is_one_line(tmp_path):
    # Sound: click's own check of the argument ("does not exist").
    (tmp_path / "a.json").symlink_to(tmp_path / "b.json")
    (tmp_path / "b.json").symlink_to(tmp_path / "a.json")
    for cmd in ("replay", "show", "minimize"):
        res = F.run(cmd, tmp_path / "a.json")
        assert res.exit_code == 2
        F.one_line(res.stderr, "a.json")


@pytest.mark.parametrize("cmd", ["minimize", "show", "variant new"])
def test_an_output_that_is_a_fifo_is_not_replaced(cmd, tmp_path):
    # Before: the atomic rename replaced the FIFO with a regular file; run as root,
    # `minimize -o /dev/null` (or `show --html /dev/full`) would replace the device
    # node itself.  Now anything but a regular file is refused, and left as it was.
    fifo = tmp_path / "out"
    os.mkfifo(fifo)
    args = {"minimize": ("minimize", GOOD, "-o", fifo), "show": ("show", GOOD, "--html", fifo),
            "variant new": ("variant", "new", fifo, "--function", "zs_free", "--force")}[cmd]
    res = F.run(*args)
    assert res.exit_code == 2, (res.exit_code, res.stdout)
    F.one_line(res.stderr, "it is a FIFO", "regular files only")
    assert os.path.exists(fifo) and not os.path.isfile(fifo)
    F.no_debris(tmp_path)


def test_a_variant_looping_at_import_is_stopped_by_the_time_limit(tmp_path):
    # Before: the time limit did not run while the variant was loaded: zsmc ran on until
    # killed (the budget never stopped it).  Now: incomplete, not verified (exit 3).
    spec = _variant(tmp_path, "while True:\n    pass\nclass V(Upstream):\n    '''x'''\n")
    start = time.monotonic()
    res = F.run("check", "--variant", spec, *SMALL, "--time-limit", "1", "--jobs", "2",
                "--format", "json", "--out", tmp_path / "out")
    assert time.monotonic() - start < 10
    assert res.exit_code == 3, (res.exit_code, res.stderr)
    F.one_line(res.stderr, "incomplete, not verified", "time limit", "v.py:")
    doc = json.loads(res.stdout)        # round 8: the document of a check that ended early
    assert doc["status"] == "incomplete" and doc["exit_code"] == 3 and "v.py:" in doc["error"]


@pytest.mark.parametrize("body,code", [
    ("        yield from Upstream.zs_free(self, handle)\n        return 42\n", 0),
    ("        return\n        yield\n", 1),
], ids=["returns a value", "never yields"])
def test_an_odd_generator_is_checked_as_written(body, code, tmp_path):
    # Sound: a value returned is ignored (as the kernel's void); a zs_free that does
    # nothing leaks the object, which the pool's invariants report.
    spec = _variant(tmp_path, "class V(Upstream):\n    '''x'''\n    def zs_free(self, handle):\n" + body)
    res = F.run("check", "--variant", spec, *SMALL, "--no-minimize", "--out", tmp_path / "out", "-q")
    assert res.exit_code == code, (res.stdout, res.stderr)


@pytest.mark.parametrize("limit", ["--max-executions 1", "--time-limit 1e-9"])
def test_a_tiny_budget_with_jobs_is_incomplete(limit, tmp_path):
    # Sound: each worker may finish the execution it started (2 for --max-executions 1),
    # and the verdict is incomplete, never verified.
    res = F.run("check", *SMALL, *limit.split(), "--jobs", "2", "--format", "json", "--out", tmp_path)
    assert res.exit_code == 3, res.stderr
    doc = json.loads(res.stdout)
    assert doc["status"] == "incomplete" and not doc["scenarios"][0]["complete"]


def test_a_json_report_on_a_full_disk_with_jobs_is_one_line(tmp_path):
    with open("/dev/full", "w") as full:        # written to, never replaced
        p = subprocess.run([sys.executable, "-m", "cli", "check", "--scenario", "clients", "--jobs", "2",
                            "--format", "json", "--out", str(tmp_path)], stdout=full, stderr=subprocess.PIPE,
                           text=True, timeout=60, env={**os.environ, "PYTHONPATH": ROOT}, check=False)
    assert p.returncode == 2
    F.one_line(p.stderr, "cannot write the output")


@pytest.mark.parametrize("content,words", [
    (b'{"format": "zsmc-trace", "version": 3, <<<<<<< HEAD', "not valid JSON"),
    (json.dumps({"format": "zsmc-trace", "version": 9}).encode(), "version 9"),
    (b"\xef\xbb\xbf" + Path(GOOD).read_bytes(), None),
], ids=["merge conflict", "version 9", "bom"])
def test_the_plugin_reports_a_broken_counterexample_as_its_failure(content, words, pytester):
    # Before: a counterexample that is no longer JSON (a merge conflict) or has a
    # byte-order mark was not collected, without a word: a regression test lost.  Now
    # the first fails with zsmc's one line, the second replays; the session goes on.
    root = pytester.path
    (root / "tests" / "counterexamples").mkdir(parents=True)
    (root / "tests" / "counterexamples" / "bug.json").write_bytes(content)
    (root / "test_other.py").write_text("def test_other():\n    pass\n")
    (root / "pytest.ini").write_text("[pytest]\n")
    res = pytester.runpytest_subprocess(*PLUGIN, "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-v",
                                        "--rootdir", str(root), str(root))
    out = res.stdout.str()
    assert "test_other.py::test_other PASSED" in out, out[-3000:]
    assert "Traceback" not in out and "INTERNALERROR" not in out, out[-3000:]
    if words is None:
        assert "bug.json::replay PASSED" in out, out[-3000:]
    else:
        assert "bug.json::replay FAILED" in out and words in out, out[-3000:]
