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
BUG = ("--mutation", "free-without-pool-lock", "--scenario", "read-migrate", "--cpus", "2")


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
