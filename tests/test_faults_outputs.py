"""Fault injection, round 4 (outputs and hostile inputs): damaged traces, files that are
not regular files, outputs written in place or under another name, an interrupt during
the minimisation, misbehaving variant files.

As in tests/test_faults.py, every case asserts the exit code, what was said (one
``zsmc: error:`` line, never a traceback, or the report) and that nothing was lost.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time

import pytest

try:
    from tests import faults as F
except ImportError:  # tests/ on sys.path instead of the rootdir
    import faults as F

HERE = os.path.dirname(os.path.abspath(__file__))
GOOD = os.path.join(HERE, "counterexamples", "free-drops-pool-lock-early.json")
BUG = ("--mutation", "free-drops-pool-lock-early", "--scenario", "read-compact", "--cpus", "2")


@pytest.fixture
def trace_doc():
    with open(GOOD, encoding="utf-8") as f:
        return json.load(f)


def _write(path, text):
    path.write_text(text)
    return str(path)


def _doc(tmp_path, doc, name="t.json"):
    return _write(tmp_path / name, json.dumps(doc))


# -------------------------------------------------------------------- 1. a damaged schedule is not a fixed bug
def _cut(n):
    def change(d):
        d["schedule"] = d["schedule"][:n]
        d.pop("events", None)
    return change


def _step(value):
    def change(d):
        d["violation"]["step"] = value
    return change


def _involved(value):
    def change(d):
        d["violation"]["involved"] = [value]
    return change


DAMAGED = [
    ("schedule truncated", _cut(10), "outside its 10-step schedule"),
    ("schedule empty", _cut(0), "outside its empty schedule"),
    ("step negative", _step(-1), "at step -1, outside"),
    ("step past the schedule", _step(73), "at step 73, outside"),
    ("step huge", _step(10 ** 30), "31-digit number"),
    ("involved past the schedule", _involved(500), "'involved' step 500"),
    ("involved negative", _involved(-2), "'involved' step -2"),
]


@pytest.mark.parametrize("cmd", ["replay", "show", "minimize"])
@pytest.mark.parametrize("name,change,words", DAMAGED, ids=[d[0] for d in DAMAGED])
def test_a_violation_outside_its_schedule_is_a_malformed_trace(cmd, name, change, words, trace_doc, tmp_path):
    # A schedule cut to 10 of its 73 steps replayed as "not reproduced ... it no
    # longer happens", exit 0: a damaged file read as a fixed bug.
    doc = copy.deepcopy(trace_doc)
    change(doc)
    res = F.run(cmd, _doc(tmp_path, doc))
    assert res.exit_code == 2, (res.exit_code, res.stdout)
    F.one_line(res.stderr, "malformed trace", words)
    assert os.listdir(tmp_path) == ["t.json"]


def test_a_violation_before_any_step_has_an_empty_schedule():
    from checker.trace_check import check_trace
    doc = {"format": "zsmc-trace", "version": 2, "program": {"loader": "m:f", "params": {}},
           "expect": "violation", "violation": {"property": "bug", "step": -1, "involved": []},
           "schedule": []}
    check_trace(doc)            # a task that fails before its first yield: nothing to schedule


# -------------------------------------------------------------------- 2. an interrupt while a violation is minimised
def _interrupt_once(real):
    calls = []

    def fake(*args, **kw):
        if not calls:
            calls.append(1)
            raise KeyboardInterrupt
        return real(*args, **kw)
    return fake


@pytest.mark.parametrize("where", ["minimising", "writing"])
def test_an_interrupt_while_a_trace_is_minimised_or_written_keeps_the_violation(where, monkeypatch, tmp_path):
    # Ctrl-C during the minimisation (z3 may take seconds) ended "interrupted ...
    # no violation", exit 130, though the trace file was on disk.
    import checker.minimize
    from checker import trace as tr
    if where == "minimising":
        monkeypatch.setattr(checker.minimize, "minimize_trace", _interrupt_once(checker.minimize.minimize_trace))
    else:
        monkeypatch.setattr(tr, "write_atomic", _interrupt_once(tr.write_atomic))
    res = F.run("check", *BUG, "--scenario", "free-deferred", "--out", tmp_path / "out")
    assert res.exit_code == 1, (res.stdout, res.stderr)
    assert "violation of bug:" in res.stdout and "not minimised: interrupted" in res.stdout
    assert "result: VIOLATION" in res.stdout
    assert "not explored: interrupted" in res.stdout      # the check stopped there
    [path] = F.traces_in(tmp_path / "out")
    assert path in res.stdout and F.run("replay", path).exit_code == 1
    F.no_debris(tmp_path)


def _slow_minimiser(tmp_path):
    script = tmp_path / "slowmin.py"
    script.write_text(
        "import sys, time\nimport checker.minimize as m\n"
        "def slow(trace, time_limit=30.0):\n    time.sleep(60)\n"
        "m.minimize_trace = slow\nimport cli\nsys.argv[0] = 'zsmc'\ncli.main()\n")
    return script


@pytest.mark.parametrize("sig,fmt", [(signal.SIGINT, "text"), (signal.SIGTERM, "json")])
def test_a_signal_during_a_slow_minimisation_reports_the_violation(sig, fmt, tmp_path):
    out = tmp_path / "out"
    p = subprocess.Popen([sys.executable, str(_slow_minimiser(tmp_path)), "check", *BUG, "--out", str(out),
                          "--format", fmt], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True, env=_env())
    end = time.monotonic() + 60
    while not (out.exists() and any(n.endswith(".json") for n in os.listdir(out))):
        assert time.monotonic() < end and p.poll() is None, p.communicate()
        time.sleep(0.1)
    time.sleep(0.3)                      # inside the minimiser's sleep
    code, stdout, err = F.interrupt(p, sig, 0)
    assert code == 1, (stdout, err)
    assert "Traceback" not in err
    [path] = F.traces_in(out)
    if fmt == "json":
        doc = json.loads(stdout)
        assert doc["status"] == "violation" and doc["violations"] == 1
        assert doc["scenarios"][0]["violations"][0]["trace"] == path
    else:
        assert "violation of bug:" in stdout and path in stdout and "result: VIOLATION" in stdout
    F.no_strays(p)


# -------------------------------------------------------------------- 3. a trace that is not a regular file
@pytest.mark.parametrize("cmd", ["replay", "show", "minimize"])
def test_a_fifo_trace_is_refused_at_once(cmd, tmp_path):
    # `mkfifo f.json; zsmc replay f.json` waited forever for a writer.
    fifo = tmp_path / "f.json"
    os.mkfifo(fifo)
    start = time.monotonic()
    code, out, err = F.finish(F.spawn(cmd, fifo), timeout=30)
    assert code == 2 and out == "" and time.monotonic() - start < 20
    F.one_line(err, "not a regular file", "FIFO")
    assert sorted(os.listdir(tmp_path)) == ["f.json"]


def test_a_device_trace_is_refused():
    res = F.run("replay", "/dev/null")
    assert res.exit_code == 2
    F.one_line(res.stderr, "not a regular file", "device")


# -------------------------------------------------------------------- 4. outputs: whole, and exactly where asked
def _limited(limit, *args, cwd):
    """zsmc as a process whose files may not grow beyond ``limit`` bytes (``ulimit -f``)."""
    boot = (f"import resource, runpy, sys; resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit})); "
            "sys.argv = ['zsmc', *sys.argv[1:]]; runpy.run_module('cli', run_name='__main__')")
    p = subprocess.Popen([sys.executable, "-c", boot, *map(str, args)], cwd=cwd, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True, env=_env())
    return F.finish(p)


def _env():
    """This checkout first on the path of a zsmc process started from a file of its own."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(HERE), os.environ.get("PYTHONPATH", "")]))


def test_an_html_page_that_does_not_fit_is_not_left_half_written(tmp_path):
    # `ulimit -f 4; zsmc show t.json --html page.html` left 4 KiB of page.html.
    page = tmp_path / "page.html"
    code, out, err = _limited(4096, "show", GOOD, "--html", page, cwd=tmp_path)
    assert code == 2, (out, err)
    F.one_line(err, "cannot write", "page.html")
    assert os.listdir(tmp_path) == []
    page.write_text("the old page")           # and a page it replaces is kept whole
    code, out, err = _limited(4096, "show", GOOD, "--html", page, cwd=tmp_path)
    assert code == 2 and page.read_text() == "the old page"
    F.no_debris(tmp_path)


def test_an_html_page_is_written_readable_like_any_file(tmp_path):
    page = tmp_path / "page.html"
    res = F.run("show", GOOD, "--html", page)
    assert res.exit_code == 0 and page.read_text().startswith("<!")
    mask = os.umask(0o022)
    os.umask(mask)
    assert os.stat(page).st_mode & 0o777 == 0o666 & ~mask
    F.no_debris(tmp_path)


def test_a_variant_file_that_does_not_fit_is_not_left_half_written(tmp_path):
    code, out, err = _limited(512, "variant", "new", tmp_path / "fix.py", "--function", "zs_free", cwd=tmp_path)
    assert code == 2, (out, err)
    F.one_line(err, "cannot write", "fix.py")
    assert os.listdir(tmp_path) == []


def test_minimize_writes_exactly_the_path_given(tmp_path):
    # `-o mm_noext` wrote mm_noext.json; `-o ""` wrote ./.json.
    out = tmp_path / "mm_noext"
    res = F.run("minimize", GOOD, "-o", out, "--time-limit", "5")
    assert res.exit_code == 0, res.stderr
    assert os.listdir(tmp_path) == ["mm_noext"] and f"wrote {out}" in res.stdout
    assert F.run("replay", out).exit_code == 1


@pytest.mark.parametrize("cmd,option", [("minimize", "-o"), ("show", "--html")])
@pytest.mark.parametrize("value,words", [("", "is empty"), ("  ", "is empty"), ("sub/", "is a directory")])
def test_an_output_that_names_no_file_is_refused_before_any_work(cmd, option, value, words, tmp_path,
                                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = F.run(cmd, GOOD, option, value)
    assert res.exit_code == 2 and res.stdout == "", res.stdout
    F.one_line(res.stderr, words)
    assert os.listdir(tmp_path) == []


# -------------------------------------------------------------------- 5. help and version on a stdout that fails
@pytest.mark.parametrize("args", [["--help"], ["-h"], ["--version"]])
@pytest.mark.parametrize("sink", ["full", "closed pipe"])
def test_help_and_version_on_a_failing_stdout_are_one_line_exit_2(args, sink):
    # `zsmc --help > /dev/full` was "[zsmc internal bug] OSError ENOSPC", exit 4.
    if sink == "full":
        with open("/dev/full", "w") as full:
            code, _, err = F.finish(F.spawn(*args, stdout=full))
    else:
        r, w = os.pipe()
        os.close(r)
        with os.fdopen(w, "w") as closed:
            code, _, err = F.finish(F.spawn(*args, stdout=closed))
    assert code == 2, err
    F.one_line(err, "cannot write the output")


# -------------------------------------------------------------------- 6. an --out that cannot be used, refused before the search
def _loop(tmp_path):
    os.symlink(tmp_path / "loop2", tmp_path / "loop1")
    os.symlink(tmp_path / "loop1", tmp_path / "loop2")
    return tmp_path / "loop1"


def _dangling(tmp_path):
    os.symlink(tmp_path / "nothing" / "here", tmp_path / "dangling")
    return tmp_path / "dangling"


UNUSABLE_OUT = {
    "empty": (lambda t: "", "--out is empty"),
    "blank": (lambda t: "  ", "--out is empty"),
    "symlink loop": (_loop, "leads nowhere"),
    "below a symlink loop": (lambda t: _loop(t) / "sub", "leads nowhere"),
    "dangling symlink": (_dangling, "symbolic link to nothing"),
    "under /proc": (lambda t: "/proc/zsmc-nowhere", "cannot be created in /proc"),
}


@pytest.mark.parametrize("name", list(UNUSABLE_OUT))
def test_an_unusable_out_is_refused_before_the_search(name, tmp_path, monkeypatch):
    # `--out ""` (or a symlink loop, /proc/zz) searched, then said "trace NOT written", exit 1.
    make, words = UNUSABLE_OUT[name]
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    out = make(tmp_path)
    res = F.run("check", *BUG, "--out", out, "--no-minimize")
    assert res.exit_code == 2, (res.stdout, res.stderr)
    assert res.stdout == ""                     # nothing explored, nothing printed
    F.one_line(res.stderr, words)
    assert [n for n in os.listdir(tmp_path) if n not in ("loop1", "loop2", "dangling")] == before
    F.no_debris(tmp_path)


def test_a_usable_out_is_still_created_when_a_trace_is_written(tmp_path):
    out = tmp_path / "a" / "b"
    res = F.run("check", *BUG, "--out", out, "--no-minimize")
    assert res.exit_code == 1 and len(F.traces_in(out)) == 1
    F.no_debris(tmp_path)


# -------------------------------------------------------------------- 7. a model that raises GeneratorExit or KeyboardInterrupt
RAISES = "from checker import label\nfrom model import Upstream\nclass Bad(Upstream):\n" \
         "    def zs_free(self, handle):\n        yield label('x')\n        raise {}\n"


@pytest.mark.parametrize("exc", ["GeneratorExit", "KeyboardInterrupt"])
@pytest.mark.parametrize("extra", [[], ["--jobs", "2"], ["--scheduler", "random", "--max-executions", "30"],
                                   ["--preemption-bound", "1"]], ids=["dpor", "jobs2", "random", "bounded"])
def test_a_model_raising_generatorexit_or_keyboardinterrupt_is_a_model_error(exc, extra, tmp_path):
    # GeneratorExit: an 86-line traceback, exit 1.  KeyboardInterrupt: read as the
    # user's Ctrl-C ("interrupted", exit 130).  Both come from the model's code.
    f = _write(tmp_path / "bad.py", RAISES.format(exc))
    res = F.run("check", "--variant", f"{f}:Bad", "--scenario", "malloc-free", "--out", tmp_path / "out", *extra)
    assert res.exit_code == 2, (res.stdout, res.stderr)
    F.one_line(res.stderr, f"raised {exc}", "a model must not exit or raise BaseException")
    assert "interrupted" not in res.stdout


def test_a_real_interrupt_is_still_an_interrupt(tmp_path):
    # The model's own KeyboardInterrupt is told apart from Ctrl-C, which still stops the check.
    p = F.spawn("check", "--depth", "2", "--out", tmp_path)
    code, out, err = F.interrupt(p, signal.SIGINT, 2.0)
    assert code == 130, (out, err)
    assert "interrupted" in out and "Traceback" not in err
    F.no_strays(p)


# -------------------------------------------------------------------- 8. a variant that prints
PRINTS = ("from model import Upstream\nprint('IMPORT-TIME PRINT')\n"
          "class Bad(Upstream):\n    def zs_free(self, handle):\n        print('HELLO FROM VARIANT')\n"
          "        yield from Upstream.zs_free(self, handle)\n")


@pytest.mark.parametrize("extra", [[], ["--jobs", "2"]], ids=["jobs1", "jobs2"])
def test_a_variant_that_prints_leaves_the_json_report_valid(extra, tmp_path):
    # The variant's prints went to stdout, before and inside the JSON document.
    f = _write(tmp_path / "prints.py", PRINTS)
    code, out, err = F.finish(F.spawn("check", "--variant", f"{f}:Bad", "--scenario", "malloc-free",
                                      "--format", "json", "--out", tmp_path / "out", *extra))
    assert code == 0, err
    doc = json.loads(out)
    assert doc["status"] == "pass" and "HELLO" not in out and "IMPORT-TIME" not in out
    assert "IMPORT-TIME PRINT" in err and "HELLO FROM VARIANT" in err


def test_a_variant_that_prints_leaves_the_text_report_whole(tmp_path):
    f = _write(tmp_path / "prints.py", PRINTS)
    res = F.run("check", "--variant", f"{f}:Bad", "--scenario", "malloc-free", "--cpus", "1",
                "--out", tmp_path / "out")
    assert res.exit_code == 0, res.stderr
    assert "HELLO" not in res.stdout and "IMPORT-TIME" not in res.stdout
    assert res.stdout.rstrip().splitlines()[-1].startswith("result: pass")


def test_a_variant_that_closes_stdout_does_not_close_the_report(tmp_path):
    f = _write(tmp_path / "closes.py", "import sys\nfrom model import Upstream\nclass Bad(Upstream):\n"
               "    def zs_free(self, handle):\n        sys.stdout.close()\n"
               "        yield from Upstream.zs_free(self, handle)\n")
    code, out, err = F.finish(F.spawn("check", "--variant", f"{f}:Bad", "--scenario", "malloc-free",
                                      "--cpus", "1", "--out", tmp_path / "out"))
    assert code == 0 and "Traceback" not in err, err
    assert out.rstrip().splitlines()[-1].startswith("result: pass")


FD1 = ("import ctypes, os, sys\nfrom model import Upstream\nos.write(1, b'FD1 AT IMPORT\\n')\n"
       "class Bad(Upstream):\n    def zs_free(self, handle):\n        os.write(1, b'FD1 IN A STEP\\n')\n"
       "        sys.__stdout__.write('DUNDER STDOUT\\n')\n        ctypes.CDLL(None).puts(b'LIBC PUTS')\n"
       "        yield from Upstream.zs_free(self, handle)\n")


@pytest.mark.parametrize("extra", [[], ["--jobs", "2"]], ids=["jobs1", "jobs2"])
def test_a_variant_writing_to_file_descriptor_1_leaves_the_json_report_valid(extra, tmp_path):
    # os.write(1, ...), sys.__stdout__ and C's puts went around sys.stdout, into the document.
    f = _write(tmp_path / "fd1.py", FD1)
    code, out, err = F.finish(F.spawn("check", "--variant", f"{f}:Bad", "--scenario", "malloc-free",
                                      "--format", "json", "--out", tmp_path / "out", *extra))
    assert code == 0, err
    assert json.loads(out)["status"] == "pass"
    for word in ("FD1 AT IMPORT", "FD1 IN A STEP", "DUNDER STDOUT", "LIBC PUTS"):
        assert word not in out and word in err, word


def test_a_variant_writing_to_file_descriptor_1_leaves_the_text_report_whole(tmp_path):
    f = _write(tmp_path / "fd1.py", FD1)
    code, out, err = F.finish(F.spawn("check", "--variant", f"{f}:Bad", "--scenario", "malloc-free",
                                      "--cpus", "1", "--out", tmp_path / "out"))
    assert code == 0, err
    assert "FD1" not in out and "LIBC" not in out and "DUNDER" not in out
    assert out.rstrip().splitlines()[-1].startswith("result: pass")


def _with_closed(fd, *args):
    return subprocess.run([sys.executable, "-m", "cli", *map(str, args)], capture_output=True,
                          check=False, text=True, timeout=120, preexec_fn=lambda: os.close(fd))


def test_a_closed_stdout_is_one_line_exit_2():
    # `zsmc check >&-` ended in a traceback (sys.stdout is None).
    res = _with_closed(1, "check", "--scenario", "malloc-free", "--cpus", "1")
    assert res.returncode == 2
    F.one_line(res.stderr, "cannot write the output", "stdout is closed")


def test_a_closed_stderr_leaves_the_report_and_the_trace_files_whole(tmp_path):
    # With fd 2 closed, the first file opened would have been fd 2 (and received stderr).
    res = _with_closed(2, "check", *BUG, "--no-minimize", "--out", tmp_path)
    assert res.returncode == 1, res.stdout
    assert "VIOLATION" in res.stdout.splitlines()[-1]
    assert F.traces_in(tmp_path)


# -------------------------------------------------------------------- 9. a variant that calls os._exit
OS_EXIT = ("import os\nfrom checker import label\nfrom model import Upstream\n{top}"
           "class Bad(Upstream):\n    def zs_free(self, handle):\n"
           "        if {when}:\n            os._exit({code})\n"
           "        yield from Upstream.zs_free(self, handle)\n")
OS_EXIT_CASES = {   # in a subprocess: a regression must not end the test run
    "in a task": ("", "True", 0, [], "task client"),
    "in a task, exit 3": ("", "True", 3, [], "os._exit(3)"),
    "at import": ("os._exit(0)\n", "True", 0, [], "cannot load variant file"),
    "in a worker process": ("", "os.getpid() != int(os.environ['ZSMC_TEST_PARENT'])", 0, ["--jobs", "2"],
                            "task client"),
}


@pytest.mark.parametrize("name", list(OS_EXIT_CASES))
def test_a_variant_calling_os_exit_is_never_a_pass(name, tmp_path):
    # os._exit(0) in a variant ended zsmc with exit 0 and no verdict.
    top, when, exit_code, extra, words = OS_EXIT_CASES[name]
    f = _write(tmp_path / "exits.py", OS_EXIT.format(top=top, when=when, code=exit_code))
    boot = ("import os, sys, runpy; os.environ['ZSMC_TEST_PARENT'] = str(os.getpid()); "
            "sys.argv = ['zsmc', *sys.argv[1:]]; runpy.run_module('cli', run_name='__main__')")
    p = subprocess.Popen([sys.executable, "-c", boot, "check", "--variant", f"{f}:Bad", "--scenario", "malloc-free", "--out",
                          str(tmp_path / "out"), *extra],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                         env=_env())
    code, out, err = F.finish(p)
    assert code == 2, (code, out, err)
    F.one_line(err, "os._exit", words)
    F.no_strays(p)


# -------------------------------------------------------------------- 10. smaller ones
@pytest.mark.parametrize("where", [["violation", "message"], ["tasks", 0, "name"], ["meta", "command"]])
@pytest.mark.parametrize("cmd", ["show", "replay", "minimize"])
def test_a_trace_with_a_lone_surrogate_is_one_line_exit_2(cmd, where, tmp_path):
    # "message": "... (\ud800)" made `zsmc show` fail with UnicodeEncodeError, exit 4.
    with open(GOOD, encoding="utf-8") as f:
        text = f.read()
    doc = json.loads(text)
    d = doc
    for k in where[:-1]:
        d = d[k]
    d[where[-1]] = "broken \ud800 text"
    path = _write(tmp_path / "t.json", json.dumps(doc))      # ensure_ascii: spelt \ud800
    res = F.run(cmd, path, *(["--html", tmp_path / "p.html"] if cmd == "show" else []))
    assert res.exit_code == 2, (res.exit_code, res.stdout)
    F.one_line(res.stderr, "lone UTF-16 surrogate", "\\ud800")
    assert os.listdir(tmp_path) == ["t.json"]


def test_a_trace_with_a_surrogate_pair_is_read(tmp_path):
    with open(GOOD, encoding="utf-8") as f:
        doc = json.load(f)
    doc["meta"]["note"] = "an emoji \U0001F600"
    path = _write(tmp_path / "t.json", json.dumps(doc))      # spelt \ud83d\ude00: one character
    res = F.run("show", path)
    assert res.exit_code == 0, res.stderr


@pytest.mark.parametrize("name,words", [("class", "keyword"), ("None", "keyword"), ("def", "keyword"),
                                        ("label", "a name the copied code uses"), ("1abc", "not a Python")])
def test_variant_new_refuses_a_class_name_that_would_not_load(name, words, tmp_path):
    # --class class wrote a file that does not compile.
    res = F.run("variant", "new", tmp_path / "v.py", "--function", "zs_free", "--class", name)
    assert res.exit_code == 2
    F.one_line(res.stderr, "--class", words)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("name", ["match", "Fix_2", "Zé"])
def test_variant_new_writes_a_file_that_loads(name, tmp_path):
    f = tmp_path / "v.py"
    res = F.run("variant", "new", f, "--function", "zs_free", "--class", name)
    assert res.exit_code == 0, res.stderr
    compile(f.read_text(encoding="utf-8"), str(f), "exec")
    assert F.run("variant", "diff", f"{f}:{name}").exit_code == 0
