"""docs/patch-review.md runs as written: its files are written, its commands run in order in an
empty directory, and each prints what the page shows (``…`` marks lines left out) with the exit
code shown.  Blocks marked ``<!-- long -->`` (tens of seconds each) run with ZSMC_LONG_DOCS=1."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "patch-review.md"
DIGEST = re.compile(r"-[0-9a-f]{10}\.json")
BLOCK = re.compile(r"(<!-- (file: (?P<path>\S+)|long) -->\n)?```(?P<lang>\w*)\n(?P<body>.*?)```", re.S)


def steps():
    """``[("file", path, text) | ("run", command, expected lines, exit code, long)]`` in order."""
    text = DOC.read_text()
    text = text[:text.index("## Check it in CI")]     # the recipe is tested by test_plugin_model
    out = []
    for m in BLOCK.finditer(text):
        if m.group("path"):
            out.append(("file", m.group("path"), m.group("body")))
        elif m.group("lang") == "console":
            long = bool(m.group(1))
            cmd, expect = None, []
            for line in m.group("body").splitlines():
                if line.startswith("$ "):
                    cmd, expect = line[2:], []
                    continue
                code = re.fullmatch(r"\[exit (\d+)\]", line)
                if code:
                    out.append(("run", cmd, expect, int(code.group(1)), long))
                    cmd = None
                elif "…" not in line:
                    expect.append(line.rstrip())
    return out


def test_the_page_has_the_whole_loop():
    kinds = [s[0] for s in steps()]
    commands = [s[1] for s in steps() if s[0] == "run"]
    assert kinds.count("file") == 1 and len(commands) >= 12
    for word in ("zsmc variant new", "zsmc variant diff", "--depth 1", "--depth 2", "zsmc show",
                 "tests/counterexamples", "python -m pytest"):
        assert any(word in c for c in commands), word


def test_every_command_runs_as_written(tmp_path):
    bindir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
    env.pop("ZSMC_TRACE_DIR", None)
    long_ok = os.environ.get("ZSMC_LONG_DOCS") == "1"
    names = {}
    for step in steps():
        if step[0] == "file":
            path = tmp_path / step[1]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(step[2])
            continue
        _, cmd, expect, code, long = step
        if long and not long_ok:
            continue
        for shown, real in names.items():
            cmd = cmd.replace(shown, real)
        res = subprocess.run(cmd, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True)
        got = [ln.rstrip() for ln in (res.stdout + res.stderr).splitlines()]
        assert res.returncode == code, (cmd, res.returncode, res.stdout, res.stderr)
        plain = [DIGEST.sub("-#.json", ln) for ln in got]
        at = 0
        for line in expect:
            want = DIGEST.sub("-#.json", line)
            assert want in plain[at:], (cmd, line, got)
            at = plain.index(want, at) + 1
            # The page's trace names stand for the ones this run wrote (a trace's
            # name digests its program, which records the variant file's path).
            for shown, real in zip(DIGEST.finditer(line), DIGEST.finditer(got[at - 1])):
                names.setdefault(shown.group(0).lstrip("-"), real.group(0).lstrip("-"))
