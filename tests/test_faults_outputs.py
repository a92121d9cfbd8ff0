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
