"""Helpers of the fault-injection suite (tests/test_faults.py): running zsmc in this
process or as a real process, and the checks every case makes."""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import time

from clirun import run  # noqa: F401  (F.run: zsmc in this process)

# A variant file that leaves a mark when it is imported: "nothing ran" is checked
# by the mark's absence.
CANARY = """
import os
from model import Upstream
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "RAN"), "w").write("ran")

class V(Upstream):
    '''a variant that leaves a mark when imported'''
"""


def spawn(*args, cwd=None, stdout=subprocess.PIPE):
    """zsmc as a process of its own (signals, concurrent runs, real file descriptors)."""
    return subprocess.Popen([sys.executable, "-m", "cli", *map(str, args)], cwd=cwd, stdout=stdout,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def finish(p, timeout=60):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # A run that did not stop must not outlive its test (it would eat the
        # machine the rest of the suite runs on): kill its process group.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.communicate()
        raise
    return p.returncode, out or "", err or ""


def interrupt(p, sig, after: float):
    """Send ``sig`` to the process group once ``after`` seconds have passed (as a terminal would)."""
    time.sleep(after)
    os.killpg(p.pid, sig)
    return finish(p)


def one_line(err: str, *words) -> str:
    """stderr is one ``zsmc: error:`` line with ``words``, and no traceback."""
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith('{"format": "zsmc-progress"')]
    assert len(lines) == 1, err
    assert lines[0].startswith("zsmc: error: "), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def no_debris(*dirs) -> None:
    """Nothing half-written is left: no temporary file anywhere under ``dirs``."""
    for d in dirs:
        left = glob.glob(os.path.join(str(d), "**", "*.tmp"), recursive=True)
        left += glob.glob(os.path.join(str(d), "**", ".*.tmp"), recursive=True)
        assert not left, left


def traces_in(out) -> list:
    """Every trace file under ``out``, each a complete JSON document of a zsmc trace."""
    files = sorted(glob.glob(os.path.join(str(out), "*.json")))
    for f in files:
        with open(f, encoding="utf-8") as fh:
            assert json.load(fh)["format"] == "zsmc-trace", f
    return files


def _group(pgid: int) -> list:
    """Live (not zombie) processes of process group ``pgid``."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(d))
    return out


def no_strays(p, within: float = 5.0) -> None:
    """No process of the run's group is left (workers notice a dead coordinator too)."""
    end = time.monotonic() + within
    while _group(p.pid):
        if time.monotonic() > end:
            os.killpg(p.pid, signal.SIGKILL)
            raise AssertionError("processes of the run were still alive")
        time.sleep(0.1)
