"""Fault injection, round 8 (budgets, faults and files from others): round 7's leftovers
(the JSON document of a check that ends early, one time budget for the whole run, the
line of a yield while closed), then files another zsmc, another scenario or another
machine left behind, variant files that no longer fit the model, exceptions and loops
in a step, options at their bounds, a full disk and the pytest plugin.

As in tests/test_faults.py, every case asserts the exit code, what was said (one
``zsmc: error:`` line, never a traceback, or the report) and that nothing was lost.
docs/cli.md, "Red team round 8", has the table of attempts, before and after ("sound"
rows passed before).  Small scenarios only.
"""

from __future__ import annotations

import errno
import importlib.metadata
import json
import os
import signal
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
GOOD = os.path.join(HERE, "counterexamples", "free-drops-pool-lock-early.json")
RA = os.path.join(HERE, "counterexamples", "relaxed-zspage-lock.json")
SMALL = ("--scenario", "malloc-free", "--cpus", "2", "--quick")
BUG = ("--mutation", "free-drops-pool-lock-early", "--scenario", "read-compact", "--cpus", "2")


def _write(path, text):
    path.write_text(text)
    return str(path)


def _variant(tmp_path, body, name="v.py"):
    return _write(tmp_path / name, "import os, sys, time\nfrom checker import label\n"
                  "from model import Upstream\n" + body) + ":V"


def _doc(path, change):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    change(doc)
    return doc


def _params(**change):
    def apply(doc):
        doc["program"]["params"].update(change)
    return apply


# ==================================================================== 1. round 7's leftovers
# (a) --format json prints one document whatever ends the check
EARLY = {
    "unknown option": (("--bogus",), "error", 2, "No such option"),
    "bad value": (("--depth", "0"), "error", 2, "--depth"),
    "unknown scenario": (("--scenario", "nope"), "error", 2, "unknown scenario"),
    "missing checkpoint": (("--scenario", "malloc-free", "--resume", "/nonexistent/ck.json"), "error", 2,
                           "no such checkpoint"),
}


@pytest.mark.parametrize("form", ["--format json", "--format=json"])
@pytest.mark.parametrize("case", list(EARLY))
def test_a_check_that_ends_early_still_prints_its_json_document(case, form, tmp_path):
    # Before: nothing on stdout, so a tool reading the document had none to read.
    args, status, code, words = EARLY[case]
    res = F.run("check", *args, *form.split(), "--out", tmp_path / "out")
    assert res.exit_code == code, (res.exit_code, res.stderr)
    line = F.one_line(res.stderr, words)
    doc = json.loads(res.stdout)
    assert doc["format"] == "zsmc-check" and doc["status"] == status and doc["exit_code"] == code
    assert doc["error"] == line.removeprefix("zsmc: error: ") and doc["scenarios"] == []


@pytest.mark.parametrize("case", ["a variant that does not load", "a model error in a step"])
def test_a_variant_s_error_gets_the_document_too(case, tmp_path):
    body = ("raise ValueError('broken')\nclass V(Upstream):\n    '''x'''\n" if case.startswith("a variant")
            else "class V(Upstream):\n    '''x'''\n    def zs_free(self, handle):\n"
                 "        raise MemoryError\n        yield\n")
    spec = _variant(tmp_path, body)
    res = F.run("check", "--variant", spec, *SMALL, "--format", "json", "--out", tmp_path / "out")
    assert res.exit_code == 2, (res.exit_code, res.stderr)
    line = F.one_line(res.stderr)
    doc = json.loads(res.stdout)        # one document, the error's
    assert doc["status"] == "error" and doc["error"] == line.removeprefix("zsmc: error: ")


def test_text_and_other_options_print_no_document(tmp_path):
    for args in (("--bogus",), ("--out", "--format", "json")):   # there --format is --out's value
        res = F.run("check", *args)
        assert res.exit_code == 2 and res.stdout == "", res.stdout


# (b) one time budget for the whole run
def test_the_time_limit_counts_the_variant_s_loading(tmp_path):
    # Before: a variant that took 1.5 s to import, with --time-limit 1: the search got a
    # second of its own, and the check passed (exit 0) after 2 s.  Now the scenario is
    # reached with nothing left: incomplete, not verified.
    spec = _variant(tmp_path, "time.sleep(1.5)\nclass V(Upstream):\n    '''x'''\n")
    res = F.run("check", "--variant", spec, *SMALL, "--time-limit", "1", "--format", "json",
                "--out", tmp_path / "out")
    assert res.exit_code == 3, (res.exit_code, res.stderr)
    doc = json.loads(res.stdout)
    assert doc["status"] == "incomplete" and "reached before it started" in doc["scenarios"][0]["reason"]


def test_a_build_that_loops_is_stopped_by_the_time_limit(tmp_path):
    # The watchdog covers the whole preparation, not only the import: a variant whose
    # pool set-up loops (model code run while the scenarios are built).
    spec = _variant(tmp_path, "class V(Upstream):\n    '''x'''\n    def __init__(self, *a, **k):\n"
                    "        while True:\n            pass\n")
    start = time.monotonic()
    res = F.run("check", "--variant", spec, *SMALL, "--time-limit", "1", "--out", tmp_path / "out")
    assert time.monotonic() - start < 15
    assert res.exit_code == 3, (res.exit_code, res.stdout, res.stderr)
    assert "incomplete, not verified" in res.stderr + res.stdout and "v.py:" in res.stderr + res.stdout


# ==================================================================== 2. files from another zsmc, scenario or variant
FOREIGN_TRACES = {
    "renamed scenario": (GOOD, _params(scenario="read-compact-renamed"), "unknown scenario 'read-compact-renamed'"),
    "removed mutation": (GOOD, _params(mutation="gone-mutation"), "unknown mutation 'gone-mutation'"),
    "unknown built-in variant": (GOOD, _params(variant="v9", mutation=None), "this zsmc does not have"),
    "unknown memory model": (GOOD, _params(memory_model="tso"), "unknown memory model 'tso'"),
    "unknown kernel config": (GOOD, _params(config="preempt"), "unknown kernel config 'preempt'"),
    "ra trace replayed as sc": (RA, lambda d: d["program"]["params"].pop("memory_model"), "schedule diverges"),
}


@pytest.mark.parametrize("case", list(FOREIGN_TRACES))
def test_a_trace_of_another_zsmc_is_one_line(case, tmp_path):
    # Sound except "unknown built-in variant": it said "add --variant v9", which then said
    # "unknown variant 'v9'".
    src, change, words = FOREIGN_TRACES[case]
    f = _write(tmp_path / "t.json", json.dumps(_doc(src, change)))
    res = F.run("replay", f)
    assert res.exit_code == 2, (res.exit_code, res.stdout)
    F.one_line(res.stderr, words)


def test_a_renamed_variant_class_is_one_line(tmp_path):
    spec = _variant(tmp_path, "class Renamed(Upstream):\n    '''x'''\n")
    res = F.run("replay", GOOD, "--variant", spec)
    assert res.exit_code == 2
    F.one_line(res.stderr, "has no class 'V'")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    d = tmp_path_factory.mktemp("ck")
    res = F.run("check", *SMALL, "--jobs", "2", "--checkpoint", d / "ck.json", "--out", d / "out", "-q")
    assert res.exit_code == 0, res.stderr
    return d / "ck.json"


@pytest.mark.parametrize("args,words", [
    (("--scenario", "read-compact", "--cpus", "2"), "another search"),
    (("--scenario", "malloc-free", "--cpus", "1"), "another search"),
    (("--scenario", "malloc-free", "--cpus", "2", "--config", "rt"), "another search"),
    (("--scenario", "malloc-free", "--cpus", "2", "--variant", "v5"), "another search"),
], ids=["scenario", "cpus", "config", "variant"])
def test_a_checkpoint_of_another_search_is_refused(args, words, checkpoint, tmp_path):
    res = F.run("check", *args, "--quick", "--resume", checkpoint, "--jobs", "2", "--out", tmp_path)
    assert res.exit_code == 2, res.stdout
    F.one_line(res.stderr, words)


@pytest.mark.parametrize("version", [1, 99])
def test_a_checkpoint_of_another_version_is_refused(version, checkpoint, tmp_path):
    doc = json.loads(checkpoint.read_text())
    doc["version"] = version
    f = _write(tmp_path / "ck.json", json.dumps(doc))
    res = F.run("check", *SMALL, "--resume", f, "--jobs", "2", "--out", tmp_path / "out")
    assert res.exit_code == 2
    F.one_line(res.stderr, f"checkpoint version {version}")


DAMAGED = {
    "truncated": (lambda raw: raw[: len(raw) // 2], "not valid JSON"),
    "zero-length": (lambda raw: b"", "it is empty"),
    "binary": (lambda raw: bytes(range(256)) * 8, "not UTF-8 text"),
    "Git LFS pointer": (lambda raw: b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 9\n",
                        "Git LFS pointer"),
}


@pytest.mark.parametrize("cmd", ["replay", "show", "minimize"])
@pytest.mark.parametrize("case", list(DAMAGED))
def test_a_damaged_trace_is_one_line(case, cmd, tmp_path):
    # Sound (one line) before; an empty file and an LFS pointer now say what they are
    # (they said "not valid JSON (Expecting value ...)").
    damage, words = DAMAGED[case]
    f = tmp_path / "t.json"
    f.write_bytes(damage(Path(GOOD).read_bytes()))
    res = F.run(cmd, f)
    assert res.exit_code == 2, res.stdout
    F.one_line(res.stderr, words)
    assert not (tmp_path / "t.min.json").exists()


def test_a_huge_trace_is_refused_unread(tmp_path):
    # Sound: a sparse file of 65 MiB is refused by its size, without reading it whole.
    f = tmp_path / "huge.json"
    with open(f, "wb") as fh:
        fh.truncate(65 << 20)
    res = F.run("replay", f)
    assert res.exit_code == 2
    F.one_line(res.stderr, "larger than 64 MiB")


# ==================================================================== 3. directories, links, names
@pytest.mark.parametrize("args,words", [
    (("replay", "{d}"), "is a directory"),
    (("minimize", GOOD, "-o", "{d}"), "is a directory"),
    (("check", "--scenario", "malloc-free", "--resume", "{d}"), "is a directory"),
    (("check", "--scenario", "malloc-free", "--checkpoint", "{d}"), "is a directory"),
    (("check", "--variant", "{d}/:V", "--scenario", "malloc-free"), "is a directory: name the .py file"),
], ids=["replay", "minimize -o", "--resume", "--checkpoint", "--variant"])
def test_a_directory_where_a_file_is_expected_is_one_line(args, words, tmp_path):
    # Sound but --variant DIR/:V, which said "variant file DIR/ not found".
    d = tmp_path / "adir"
    d.mkdir()
    res = F.run(*[a.format(d=d) for a in args])
    assert res.exit_code == 2, res.stdout
    F.one_line(res.stderr, words)


@pytest.mark.parametrize("cmd", ["minimize", "show"])
@pytest.mark.parametrize("link", ["loop", "dangling"])
def test_an_output_that_is_a_link_leading_nowhere_is_left_alone(cmd, link, tmp_path):
    # Before: "wrote loop": the atomic rename replaced the user's symbolic link (a loop,
    # or one to a file not made yet) with a regular file.
    out = tmp_path / "out.json"
    if link == "loop":
        os.symlink(tmp_path / "other", out)
        os.symlink(out, tmp_path / "other")
    else:
        os.symlink(tmp_path / "nowhere" / "x.json", out)
    args = ("minimize", GOOD, "-o", out) if cmd == "minimize" else ("show", GOOD, "--html", out)
    res = F.run(*args)
    assert res.exit_code == 2, res.stdout
    F.one_line(res.stderr, "symbolic link", "regular files only")
    assert os.path.islink(out)
    F.no_debris(tmp_path)


def test_an_output_that_is_a_link_to_a_file_is_written_through(tmp_path):
    # Before: the link was replaced by a regular file and the file it named left as it was.
    target = tmp_path / "real.json"
    target.write_text("old")
    out = tmp_path / "link.json"
    os.symlink(target, out)
    res = F.run("minimize", GOOD, "-o", out)
    assert res.exit_code == 0, res.stderr
    assert os.path.islink(out) and json.loads(target.read_text())["format"] == "zsmc-trace"
    F.no_debris(tmp_path)


def test_a_variant_path_that_is_not_utf8_is_one_line(tmp_path):
    # Before: "[zsmc internal bug] UnicodeEncodeError" (exit 4), at once; and with the
    # module's name fixed, after the whole search when the trace recorded the path.
    folder = os.fsencode(str(tmp_path))
    with open(os.path.join(folder, b"v\xff.py"), "w") as f:
        f.write("from model import Upstream\nclass V(Upstream):\n    '''x'''\n")
    res = F.run("check", "--variant", os.fsdecode(os.path.join(folder, b"v\xff.py")) + ":V", *SMALL,
                "--out", tmp_path / "out")
    assert res.exit_code == 2, (res.exit_code, res.stderr)
    F.one_line(res.stderr, "not UTF-8 text", "rename the file")


def test_an_out_that_is_not_utf8_still_holds_the_trace(tmp_path):
    # Sound: the trace records no --out; the path is printed escaped.
    out = os.fsdecode(os.path.join(os.fsencode(str(tmp_path)), b"o\xfe"))
    res = F.run("check", *BUG, "--out", out, "-q", "--no-minimize")
    assert res.exit_code == 1, res.stderr
    assert len(F.traces_in(out)) == 1


# ==================================================================== 4. variant files that no longer fit
@pytest.mark.parametrize("sig", ["(self)", "(self, handle, flags)", "(self, *, handle)"])
def test_a_kernel_function_with_other_parameters_is_refused_at_load(sig, tmp_path):
    # Before: "task client1 raised TypeError: V.zs_free() takes 1 positional argument
    # but 2 were given", after the report's header, at the first call.
    spec = _variant(tmp_path, f"class V(Upstream):\n    '''x'''\n    def zs_free{sig}:\n"
                              "        yield from ()\n")
    res = F.run("check", "--variant", spec, *SMALL, "--out", tmp_path / "out")
    assert res.exit_code == 2, (res.exit_code, res.stdout)
    F.one_line(res.stderr, f"zs_free{sig} does not take the arguments", "zs_free(self, handle)")
    assert res.stdout == ""


@pytest.mark.parametrize("sig,call", [("(self, h)", "h"), ("(self, handle, flags=0)", "handle"),
                                      ("(self, *args, **kwargs)", "*args")])
def test_a_kernel_function_taking_the_same_calls_still_loads(sig, call, tmp_path):
    # A user's file with another parameter name, an extra optional one or *args keeps working.
    spec = _variant(tmp_path, f"class V(Upstream):\n    '''x'''\n    def zs_free{sig}:\n"
                              f"        yield from Upstream.zs_free(self, {call})\n")
    res = F.run("check", "--variant", spec, *SMALL, "--out", tmp_path / "out", "-q")
    assert res.exit_code == 0, (res.stdout, res.stderr)


@pytest.mark.parametrize("body,words", [
    ("class V:\n    '''x'''\n", "not a subclass of a zsmalloc version"),
    ("class V(Upstream):\n    '''x'''\n    def zs_free(self, handle):\n        return None\n",
     "must be a generator"),
], ids=["not a subclass", "not a generator"])
def test_a_variant_that_is_not_a_version_s_is_one_line(body, words, tmp_path):
    res = F.run("check", "--variant", _variant(tmp_path, body), *SMALL, "--out", tmp_path / "out")
    assert res.exit_code == 2
    F.one_line(res.stderr, words)


# ==================================================================== 5. a step that raises or never ends
RAISES = ["SystemExit(3)", "GeneratorExit()", "MemoryError()", "RecursionError('deep')",
          "KeyboardInterrupt()", "BaseException('odd')"]


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("exc", RAISES)
def test_a_step_raising_a_base_exception_is_a_model_error(exc, jobs, tmp_path):
    # Sound: each names the task, exit 2, and --format json gets the error's document.
    if jobs == "2" and exc not in ("SystemExit(3)", "MemoryError()"):
        pytest.skip("two of them with --jobs 2 is enough")
    spec = _variant(tmp_path, f"class V(Upstream):\n    '''x'''\n    def zs_free(self, handle):\n"
                              f"        raise {exc}\n        yield\n")
    res = F.run("check", "--variant", spec, *SMALL, "--jobs", jobs, "--format", "json", "--out", tmp_path / "out")
    assert res.exit_code == 2, (res.exit_code, res.stderr)
    F.one_line(res.stderr, "task client", exc.split("(")[0])
    assert json.loads(res.stdout)["status"] == "error"


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_step_that_never_yields_is_stopped_by_the_time_limit(jobs, tmp_path):
    # Sound: incomplete, not verified, naming the line it ran on at.
    spec = _variant(tmp_path, "class V(Upstream):\n    '''x'''\n    def zs_free(self, handle):\n"
                    "        while True:\n            pass\n        yield\n")
    start = time.monotonic()
    res = F.run("check", "--variant", spec, *SMALL, "--time-limit", "1", "--jobs", jobs, "--format", "json",
                "--out", tmp_path / "out")
    assert time.monotonic() - start < 20
    assert res.exit_code == 3, (res.exit_code, res.stderr)
    doc = json.loads(res.stdout)
    assert doc["status"] == "incomplete" and "ran on without yielding" in doc["scenarios"][0]["reason"]


# ==================================================================== 6. options at their bounds
@pytest.mark.parametrize("args,code", [
    (("--jobs", "0"), 2), (("--jobs", "-1"), 2), (("--jobs", str(10 ** 30)), 0),
    (("--depth", "51"), 2), (("--cpus", "65"), 2), (("--cpus", "64"), 0),
    (("--seed", str(10 ** 30), "--scheduler", "random", "--executions", "3"), 3),
    (("--seed", str(-10 ** 30), "--scheduler", "pct", "--executions", "3"), 3),
    (("--seed", "abc"), 2),
], ids=lambda v: " ".join(v) if isinstance(v, tuple) else str(v))
def test_options_at_and_over_their_bounds(args, code, tmp_path):
    # Sound: over a bound, one line; at it, the check (a --jobs above the CPUs is capped).
    scen = ("--scenario", "malloc-free", "--quick") if "--cpus" in args else SMALL
    res = F.run("check", *scen, *args, "--out", tmp_path, "-q")
    assert res.exit_code == code, (res.exit_code, res.stdout, res.stderr)
    if code == 2:
        F.one_line(res.stderr)
    else:
        assert "result:" in res.stdout


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_a_jobs_run_leaves_one_document_and_no_workers(sig, code, tmp_path):
    # Sound: the document says interrupted, no worker outlives zsmc.
    p = F.spawn("check", "--scenario", "free-migrate", "--depth", "2", "--jobs", "2", "--quick",
                "--format", "json", "--out", tmp_path)
    got, out, err = F.interrupt(p, sig, 2.5)
    assert got == code, (got, err[-500:])
    assert json.loads(out)["status"] == "interrupted"
    F.no_strays(p)


# ==================================================================== 7. a full disk
@pytest.fixture
def full_disk(monkeypatch):
    """Every file zsmc writes fails as on a full disk (ENOSPC when it is synced)."""
    def fsync(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, "fsync", fsync)


def test_a_counterexample_on_a_full_disk_is_said_even_with_q(full_disk, tmp_path):
    # Before: -q printed "trace: None  [bug] ..." for the trace it could not write.
    res = F.run("check", *BUG, "--out", tmp_path / "out", "-q")
    assert res.exit_code == 1
    first = res.stdout.splitlines()[0]
    assert first.startswith("trace NOT written: ") and "No space left on device" in first, res.stdout
    assert "None" not in res.stdout
    F.no_debris(tmp_path)


def test_an_existing_trace_is_kept_when_the_disk_fills(tmp_path, monkeypatch):
    # Sound: the minimised trace cannot replace the one found, which stays whole.
    res = F.run("check", *BUG, "--out", tmp_path, "-q", "--no-minimize")
    [found] = F.traces_in(tmp_path)
    before = Path(found).read_bytes()
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space")))
    res = F.run("minimize", found, "-o", found)
    assert res.exit_code == 2
    F.one_line(res.stderr, "No space")
    assert Path(found).read_bytes() == before
    F.no_debris(tmp_path)


def test_a_checkpoint_on_a_full_disk_is_said_even_with_q(full_disk, tmp_path):
    # Before: with -q a pass and nothing else; a later --resume found no checkpoint.
    res = F.run("check", *SMALL, "--jobs", "2", "--checkpoint", tmp_path / "ck.json", "--out", tmp_path, "-q")
    assert res.exit_code == 0, res.stderr
    assert "note: malloc-free: checkpoint not saved: " in res.stdout and "No space left" in res.stdout
    assert not (tmp_path / "ck.json").exists()
    F.no_debris(tmp_path)


# ==================================================================== 8. the pytest plugin
def _changed_model(raw: bytes) -> bytes:
    doc = json.loads(raw)
    doc["schedule"][0] = [0, "zs_compact c0.a"]     # a choice the model no longer offers
    doc["events"][0].update(result="zs_compact c0.a", choice="zs_compact c0.a")
    return json.dumps(doc).encode()


@pytest.mark.parametrize("case,words", [
    ("model changed", "schedule diverges at step 0"),
    ("renamed scenario", "unknown scenario"),
    ("zero-length", "it is empty"),
    ("binary", "not UTF-8 text"),
    ("Git LFS pointer", "Git LFS pointer"),
])
def test_the_plugin_fails_a_counterexample_that_no_longer_replays(case, words, pytester):
    # Sound for "model changed" and "renamed scenario"; before, an empty, binary or LFS
    # pointer counterexample was not collected, without a word: a regression test lost.
    raw = Path(GOOD).read_bytes()
    content = {"model changed": lambda: _changed_model(raw),
               "renamed scenario": lambda: json.dumps(_doc(GOOD, _params(scenario="gone"))).encode(),
               "zero-length": lambda: b"",
               "binary": lambda: bytes(range(256)),
               "Git LFS pointer": lambda: DAMAGED["Git LFS pointer"][0](raw)}[case]()
    root = pytester.path
    (root / "tests" / "counterexamples").mkdir(parents=True)
    (root / "tests" / "counterexamples" / "bug.json").write_bytes(content)
    (root / "tests" / "counterexamples" / "other.json").write_text('{"tool": "not zsmc"}')
    (root / "test_other.py").write_text("def test_other():\n    pass\n")
    (root / "pytest.ini").write_text("[pytest]\n")
    res = pytester.runpytest_subprocess(*PLUGIN, "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-v",
                                        "--rootdir", str(root), str(root))
    out = res.stdout.str()
    assert "test_other.py::test_other PASSED" in out, out[-3000:]
    assert "Traceback" not in out and "INTERNALERROR" not in out, out[-3000:]
    assert "bug.json::replay FAILED" in out and words in out, out[-3000:]
    assert "other.json" not in out                  # JSON of another tool is never claimed
