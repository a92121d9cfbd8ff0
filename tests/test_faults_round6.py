"""Fault injection, round 6 (a user's situations): signals while zsmc starts and SIGHUP,
a worker process killed, a variant that forks, trace fields of the wrong JSON type,
an output encoding that cannot print a path.

As in tests/test_faults.py, every case asserts the exit code, what was said (one
``zsmc: error:`` line, never a traceback, or the report) and that nothing was lost.
docs/cli.md, "Red team round 6", has the table of attempts, before and after.
"""

from __future__ import annotations

import copy
import importlib.metadata
import json
import os
import signal
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
# The plugin is loaded by its pytest11 entry point once zsmc is installed (tests/test_plugin.py).
PLUGIN = [] if any(ep.name == "zsmc" for ep in importlib.metadata.entry_points(group="pytest11")) \
    else ["-p", "pytest_zsmc"]
HERE = os.path.dirname(os.path.abspath(__file__))
GOOD = os.path.join(HERE, "counterexamples", "free-drops-pool-lock-early.json")
BUG = ("--mutation", "free-drops-pool-lock-early", "--scenario", "read-compact", "--cpus", "2")


def _write(path, text):
    path.write_text(text)
    return str(path)


def _json_or_none(out):
    try:
        return json.loads(out)
    except ValueError:
        return None


# -------------------------------------------------------------------- 1. a signal while zsmc starts
# The signal is sent by zsmc's own process when it starts to import MODULE (a finder on
# sys.meta_path), so it lands inside the start-up window whatever the machine's load.
SIGNAL_AT_IMPORT = """
import os, sys
class Finder:
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), {sig})
        return None
sys.meta_path.insert(0, Finder())
sys.argv = ["zsmc", "check", "--scenario", "clients", "--format", "json", "--out", {out!r}]
from cli import main
main()
"""


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
@pytest.mark.parametrize("module", ["checker.result", "cli.session", "model.free"],
                         ids=["importing-cli", "check-starting", "loading-the-model"])
def test_a_signal_while_zsmc_starts_is_one_line_and_its_code(sig, code, module, tmp_path):
    # Before: Ctrl-C while cli was imported printed a KeyboardInterrupt traceback and
    # exited 1 (a "violation" to a script); SIGTERM and SIGHUP before the check's own
    # handlers killed zsmc silently (-15, -1).  (The interpreter's own start, before
    # zsmc's first line runs, is out of reach.)
    prog = SIGNAL_AT_IMPORT.format(module=module, sig=int(sig), out=str(tmp_path / "out"))
    res = subprocess.run([sys.executable, "-c", prog], check=False, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": os.path.dirname(HERE)})
    assert res.returncode == code, (res.returncode, res.stderr[-2000:])
    # --format json: the document of an interrupted check (round 8), nothing else
    doc = json.loads(res.stdout)
    assert doc["status"] == "interrupted" and doc["exit_code"] == code and doc["scenarios"] == []
    F.one_line(res.stderr, "interrupted: nothing verified")


def test_importing_cli_leaves_the_signal_handlers_as_they_were():
    code = ("import signal; before = [signal.getsignal(s) for s in (2, 15, 1)]; import cli; "
            "assert [signal.getsignal(s) for s in (2, 15, 1)] == before; print('same')")
    res = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": os.path.dirname(HERE)})
    assert res.stdout.strip() == "same", res.stderr


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_sighup_stops_a_check_like_sigterm(jobs, tmp_path):
    # Before: the terminal closing killed zsmc with no report (exit -1), workers included.
    p = F.spawn("check", "--depth", "2", "--jobs", jobs, "--format", "json", "--out", tmp_path)
    got, out, err = F.interrupt(p, signal.SIGHUP, 2.5)
    assert got == 129, err
    doc = json.loads(out)
    assert doc["status"] == "interrupted" and doc["exit_code"] == 129
    assert any("interrupted" in s["reason"] for s in doc["scenarios"])
    assert "Traceback" not in err
    F.no_strays(p)


def test_sighup_keeps_a_violation_found_before_it(tmp_path):
    p = F.spawn("check", "--depth", "2", *BUG[:4], "--scenario", "free-deferred", "--no-minimize",
                "--out", tmp_path)
    got, out, err = F.interrupt(p, signal.SIGHUP, 3.0)
    assert got == 1, (out, err)
    assert "violation of" in out and "interrupted" in out
    traces = F.traces_in(tmp_path)
    assert traces and F.run("replay", traces[0]).exit_code == 1


def test_an_ignored_sighup_is_left_ignored(tmp_path):
    # nohup: SIGHUP ignored when zsmc starts stays ignored (the check runs to its end).
    code = ("import signal, subprocess, sys; signal.signal(signal.SIGHUP, signal.SIG_IGN); "
            "p = subprocess.Popen([sys.executable, '-m', 'cli', 'check', '--scenario', 'clients', "
            f"'--out', {str(tmp_path)!r}, '-q'], stdout=subprocess.PIPE, text=True); "
            "import time; time.sleep(0.5); p.send_signal(signal.SIGHUP); "
            "out = p.communicate()[0]; print(p.returncode); print(out)")
    res = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": os.path.dirname(HERE)})
    rc, *rest = res.stdout.splitlines()
    assert rc == "0", res.stdout + res.stderr
    assert "result: pass" in "\n".join(rest)


def test_sigterm_during_replay_is_one_line_143(tmp_path):
    # Every command, not only check: a replay stopped by SIGTERM says so (it was killed
    # silently).  The signal lands as replay loads its trace (cli.trust, imported then).
    prog = SIGNAL_AT_IMPORT.format(module="cli.trust", sig=int(signal.SIGTERM), out=str(tmp_path)) + "\n"
    prog = prog.replace("sys.argv = [", f"sys.argv = ['zsmc', 'replay', {GOOD!r}]\nunused = [")
    res = subprocess.run([sys.executable, "-c", prog], check=False, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": os.path.dirname(HERE)})
    assert res.returncode == 143, (res.returncode, res.stderr[-2000:])
    F.one_line(res.stderr, "interrupted")


# -------------------------------------------------------------------- 2. a worker process killed
KILLS_ITS_WORKER = """
import os, signal
from model import Upstream
COORDINATOR = os.getpid()          # the check imports the variant before it forks its workers

class V(Upstream):
    '''zs_free kills the worker process it runs in (the OOM killer, a user's kill -9)'''
    def zs_free(self, handle):
        if os.getpid() != COORDINATOR:
            os.kill(os.getpid(), signal.SIGKILL)
        yield from Upstream.zs_free(self, handle)
"""


def test_a_subtree_whose_worker_always_dies_is_incomplete_not_an_internal_bug(tmp_path):
    # Before: "[zsmc internal bug] worker process died (exit code None)", exit 4, no report.
    f = _write(tmp_path / "kills.py", KILLS_ITS_WORKER)
    res = F.run("check", "--variant", f"{f}:V", "--scenario", "malloc-free", "--cpus", "2", "--quick",
                "--jobs", "2", "--format", "json", "--out", tmp_path / "out")
    assert res.exit_code == 3, (res.stdout, res.stderr)
    doc = json.loads(res.stdout)
    assert doc["status"] == "incomplete"
    [scen] = doc["scenarios"]
    assert not scen["complete"] and "its worker process died (twice, killed by SIGKILL)" in scen["reason"]
    assert "internal bug" not in res.stderr


def test_a_worker_killed_once_is_run_again_to_the_same_count(tmp_path):
    args = ("check", "--scenario", "malloc-free", "--cpus", "2", "--depth", "2", "--format", "json",
            "--out", tmp_path)
    p = F.spawn(*args, "--jobs", "2")
    time.sleep(2.0)
    kids = subprocess.run(["pgrep", "-P", str(p.pid)], check=False, capture_output=True, text=True).stdout.split()
    if kids:
        os.kill(int(kids[0]), signal.SIGKILL)
    got, out, err = F.finish(p, timeout=600)
    assert got == 0, err
    doc = json.loads(out)
    assert doc["status"] == "pass"
    assert doc["scenarios"][0]["executions"] == 1756     # the serial search's count
    F.no_strays(p)


# -------------------------------------------------------------------- 3. a variant that forks
FORKS = """
import os, posix
from model import Upstream

class V(Upstream):
    '''forks in a step'''
    def zs_free(self, handle):
        {call}()
        yield from Upstream.zs_free(self, handle)
"""


@pytest.mark.parametrize("call", ["os.fork", "posix.fork"])
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_variant_that_forks_is_a_model_error_not_a_fork_bomb(call, fmt, tmp_path):
    # Before: each child went on with the search and forked again: processes without end,
    # one report per process on stdout (an invalid JSON document), the machine's memory.
    f = _write(tmp_path / "forks.py", FORKS.format(call=call))
    p = F.spawn("check", "--variant", f"{f}:V", "--scenario", "clients", "--quick", "--format", fmt,
                "--out", tmp_path / "out")
    got, out, err = F.finish(p, timeout=60)
    assert got == 2, (got, out[-500:], err[-500:])
    F.one_line(err, "must not fork")
    if fmt == "text":
        assert "result:" not in out                                         # no report, let alone two
    else:   # one document, the error's (round 8: --format json always prints one)
        doc = json.loads(out)
        assert doc["status"] == "error" and doc["exit_code"] == 2 and "must not fork" in doc["error"]
    F.no_strays(p)


def test_forking_outside_the_model_still_works(tmp_path):
    # The split search forks its workers: not under a task's step, so allowed.
    res = F.run("check", "--scenario", "clients", "--jobs", "2", "--out", tmp_path)
    assert res.exit_code == 0, res.stderr
    assert os.fork.__module__ == "posix"            # the real one is back after the check


# -------------------------------------------------------------------- 4. trace fields of the wrong JSON type
@pytest.fixture
def trace_doc():
    with open(GOOD, encoding="utf-8") as f:
        return json.load(f)


WRONG_TYPE = [
    ("version 2.0", ["version"], 2.0, "version 2.0"),
    ("version true", ["version"], True, "version True"),
    ("step true", ["violation", "step"], True, "integer 'step'"),
    ("step 3.0", ["violation", "step"], 3.0, "integer 'step'"),
]


@pytest.mark.parametrize("cmd", ["replay", "show", "minimize"])
@pytest.mark.parametrize("name,path,value,words", WRONG_TYPE, ids=[w[0] for w in WRONG_TYPE])
def test_a_trace_field_of_the_wrong_json_type_is_refused(cmd, name, path, value, words, trace_doc, tmp_path):
    # Before: version 2.0 was read as 2; a violation step `true` replayed as step 1,
    # "not reproduced ... the trace says step True" (a fixed bug, to a script).
    doc = copy.deepcopy(trace_doc)
    d = doc
    for k in path[:-1]:
        d = d[k]
    d[path[-1]] = value
    f = _write(tmp_path / "t.json", json.dumps(doc))
    res = F.run(cmd, f)
    assert res.exit_code == 2, (res.exit_code, res.stdout)
    F.one_line(res.stderr, words)
    assert not (tmp_path / "t.min.json").exists()


# -------------------------------------------------------------------- 5. an output encoding that cannot print a path
@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
@pytest.mark.parametrize("cmd", ["check", "replay", "minimize"])
def test_a_path_the_output_cannot_encode_is_printed_escaped(cmd, encoding, tmp_path):
    # Before: PYTHONIOENCODING=latin-1 (an ISO-8859-1 locale) and a directory named 中:
    # "[zsmc internal bug] UnicodeEncodeError", exit 4, after the whole search.
    d = tmp_path / "中"
    d.mkdir()
    if cmd == "check":
        args, want = ("check", *BUG, "--out", d, "--no-minimize"), 1
    else:
        trace = d / "t.json"
        trace.write_bytes(Path(GOOD).read_bytes())
        args, want = (cmd, trace), (1 if cmd == "replay" else 0)
    env = {**os.environ, "PYTHONIOENCODING": encoding,
           "PYTHONPATH": os.path.dirname(HERE)}
    res = subprocess.run([sys.executable, "-m", "cli", *map(str, args)], check=False, capture_output=True,
                         timeout=120, env=env)
    err = res.stderr.decode("utf-8", "replace")
    assert res.returncode == want, err
    assert "internal bug" not in err and "Traceback" not in err
    # the path, escaped (click itself writes UTF-8 where the stream says ASCII)
    out = res.stdout.decode("utf-8", "replace")
    assert "\\u4e2d" in out or "中" in out


# -------------------------------------------------------------------- 6. state left by an earlier run in the same process
SERIES = """
import r6_series_helper
from model import Upstream

class V(Upstream):
    '''zs_free, then whatever the helper next to this file does'''
    def zs_free(self, handle):
        yield from Upstream.zs_free(self, handle)
        r6_series_helper.after_free()
"""
GOOD_HELPER = "def after_free():\n    pass\n"
BROKEN_HELPER = "from checker import Bug\n\ndef after_free():\n    raise Bug('broken by the helper')\n"


def _series(tmp_path, *revisions):
    """One folder per revision, each with patch.py and its own r6_series_helper.py."""
    out = []
    for name, broken in revisions:
        d = tmp_path / name
        d.mkdir()
        _write(d / "r6_series_helper.py", BROKEN_HELPER if broken else GOOD_HELPER)
        out.append(_write(d / "patch.py", SERIES))
    return out


def _check(patch, tmp_path):
    return F.run("check", "--variant", f"{patch}:V", "--scenario", "malloc-free", "--cpus", "1", "--quick",
                 "--no-minimize", "--out", tmp_path / "out", "-q").exit_code


@pytest.mark.parametrize("order", [(False, True), (True, False)], ids=["good-then-broken", "broken-then-good"])
def test_revisions_of_a_series_each_run_their_own_helpers(order, tmp_path):
    # Before: in one process (the pytest plugin, a script), the second revision's
    # `import r6_series_helper` got the first revision's module: a broken revision
    # passed (exit 0) after a good one, a good one failed after a broken one.
    a, b = _series(tmp_path, ("rev1", order[0]), ("rev2", order[1]))
    assert _check(a, tmp_path) == (1 if order[0] else 0)
    assert _check(b, tmp_path) == (1 if order[1] else 0)
    assert _check(a, tmp_path) == (1 if order[0] else 0)       # and back


def test_an_edited_helper_is_read_again(tmp_path):
    # Before: an unchanged patch.py was taken from the cache with its helper as first imported.
    [patch] = _series(tmp_path, ("rev1", False))
    helper = tmp_path / "rev1" / "r6_series_helper.py"
    assert _check(patch, tmp_path) == 0
    helper.write_text(BROKEN_HELPER)
    assert _check(patch, tmp_path) == 1
    helper.write_text(GOOD_HELPER)
    assert _check(patch, tmp_path) == 0


def test_the_plugin_replays_the_collected_trace_whatever_the_working_directory(pytester):
    # Before: a counterexample item read the file at its path relative to where pytest
    # was invoked, from the working directory of the moment: after a test that changed
    # directory, another project's file of that name (here one of version 9).
    root = pytester.path
    good = Path(GOOD).read_text(encoding="utf-8")
    (root / "tests" / "counterexamples").mkdir(parents=True)
    (root / "tests" / "counterexamples" / "bug.json").write_text(good)
    other = root / "elsewhere"
    (other / "tests" / "counterexamples").mkdir(parents=True)
    (other / "tests" / "counterexamples" / "bug.json").write_text(json.dumps(dict(json.loads(good), version=9)))
    (root / "test_a_chdir.py").write_text(
        f"import os\ndef test_moves():\n    os.chdir({str(other)!r})\n")
    (root / "pytest.ini").write_text("[pytest]\n")
    res = pytester.runpytest_subprocess(*PLUGIN, "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-v",
                                        "--rootdir", str(root), str(root))
    out = res.stdout.str()
    assert "test_a_chdir.py::test_moves PASSED" in out
    assert "bug.json::replay PASSED" in out, out[-3000:]
