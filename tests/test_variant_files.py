"""Variants that share code (issue 17 part 3) and that a trace records (issue 12 parts 3, 5).

A review series keeps its revisions in one folder: ``rev2.py`` imports
``rev1.py``, which imports ``common.py``.  Checked, replayed and minimised
from another working directory, as real processes; the trace records the
files' absolute paths and SHA-256, and runs them only when the user says so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

COMMON = "def helper_label():\n    return 'series helper'\n"
REV1 = """
from checker import label
from model.registry import MUTATIONS
import common

class Rev1(MUTATIONS["free-drops-pool-lock-early"].cls):
    '''revision 1: zs_free drops pool->lock early (broken)'''
    def zs_free(self, handle):
        yield label(common.helper_label())
        yield from super().zs_free(handle)
"""
REV2 = "from rev1 import Rev1\n\nclass Rev2(Rev1):\n    '''revision 2, still broken'''\n"


def zsmc(*args, cwd):
    p = subprocess.run([sys.executable, "-m", "cli", *map(str, args)], cwd=cwd, capture_output=True,
                       text=True, timeout=120, check=False)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def series(tmp_path):
    d = tmp_path / "series"
    d.mkdir()
    (d / "common.py").write_text(COMMON)
    (d / "rev1.py").write_text(REV1)
    (d / "rev2.py").write_text(REV2)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return d, elsewhere


@pytest.fixture
def checked(series, tmp_path):
    d, elsewhere = series
    work = tmp_path / "work"
    work.mkdir()
    code, out, err = zsmc("check", "--variant", "../series/rev2.py:Rev2", "--scenario", "read-compact",
                          "--no-minimize", "--out", "traces", "--format", "json", cwd=work)
    assert code == 1, err
    [v] = json.loads(out)["scenarios"][0]["violations"]
    return d, elsewhere, work / v["trace"], v["replay"]


def test_a_variant_importing_its_siblings_is_checked_from_another_directory(checked):
    d, _, trace, replay = checked
    doc = json.loads(trace.read_text())
    params = doc["program"]["params"]
    assert params["variant"] == f"{d / 'rev2.py'}:Rev2"              # absolute: loadable from anywhere
    rec = params["variant_file"]
    assert rec["class"] == "Rev2" and set(rec["imports"]) == {"rev1.py", "common.py"}
    assert any(e.get("label") == "series helper" for e in doc["events"])
    assert "--variant ../series/rev2.py:Rev2" in replay


def test_replay_and_minimize_from_another_directory(checked):
    d, elsewhere, trace, _ = checked
    spec = f"{d / 'rev2.py'}:Rev2"
    code, out, err = zsmc("replay", trace, "--variant", spec, cwd=elsewhere)
    assert code == 1 and "reproduced" in out, err
    code, out, err = zsmc("replay", trace, "--trust-variant", cwd=elsewhere)
    assert code == 1 and "reproduced" in out, err
    code, out, err = zsmc("minimize", trace, "--variant", spec, "-o", elsewhere / "small.json",
                          "--time-limit", "5", cwd=elsewhere)
    assert code == 0, err
    assert zsmc("replay", elsewhere / "small.json", "--trust-variant", cwd=elsewhere)[0] == 1


def test_a_trace_runs_no_variant_code_unless_told(checked):
    d, elsewhere, trace, _ = checked
    (d / "common.py").write_text(COMMON + "open(__file__ + '.RAN', 'w').close()\n")
    code, _, err = zsmc("replay", trace, cwd=elsewhere)
    assert code == 2 and "--variant" in err and len(err.strip().splitlines()) == 1
    # The sibling changed since the trace was recorded: trusting the record refuses it.
    code, _, err = zsmc("replay", trace, "--trust-variant", cwd=elsewhere)
    assert code == 2 and "common.py" in err and "changed" in err
    assert not (d / "common.py.RAN").exists()


def test_a_moved_series_is_found_next_to_the_trace(checked, tmp_path):
    d, elsewhere, trace, _ = checked
    moved = tmp_path / "moved"
    shutil.copytree(d, moved)
    shutil.copy(trace, moved / "t.json")
    shutil.rmtree(d)                          # the recorded absolute path is gone
    code, out, err = zsmc("replay", moved / "t.json", "--trust-variant", cwd=elsewhere)
    assert code == 1 and "reproduced" in out, err
