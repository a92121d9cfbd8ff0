"""Every command README.md and docs/*.md write still runs as written: each ``zsmc ...``
names a command (and subcommand) that exists and only options it has, each
``python -m bench.X`` a module whose ``--help`` lists the options used, and the
cheap ones (``zsmc list``, ``-h``) run.  docs/patch-review.md is run end to end
by test_doc_patch_review.py; this test checks the rest without running searches."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest
from clirun import run

from cli import main

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A command in a code block (one per line, maybe after "$ ") or in an inline code span;
# not a line of output ("zsmc check: variant ...") or of a config file ("zsmc = ...").
BLOCK = re.compile(r"```\w*\n(.*?)```", re.DOTALL)
SPAN = re.compile(r"`((?:zsmc|python3? -m) [^`]+)`")
COMMAND = re.compile(r"(zsmc (-|\[?[a-z]+(\|[a-z]+)*\]?(\s|$))|python3? -m \S)")


def commands():
    """``[(page, command)]``: every zsmc and ``python -m`` command the pages write."""
    out = []
    for page in PAGES:
        text = page.read_text()
        for block in BLOCK.findall(text):
            for line in block.splitlines():
                line = line.removeprefix("$ ").strip()
                if COMMAND.match(line):
                    out.append((page.name, line))
        for span in SPAN.findall(BLOCK.sub("", text)):
            if COMMAND.match(span):
                out.append((page.name, span))
    return out


def words(command: str) -> list:
    """The command's words: up to a comment, ``&&`` or ``|``; synopsis brackets dropped."""
    try:
        tokens = shlex.split(command, comments=True)
    except ValueError:
        tokens = command.split()
    out = []
    for t in tokens:
        if t in ("&&", "|", ";"):
            break
        t = t.strip("[]")
        if t and t not in ("...", "…"):
            out.append(t)
    return out


def options_of(cmd: click.Command) -> set:
    names = {"-h", "--help"}
    for p in cmd.params:
        names.update(p.opts)
        names.update(p.secondary_opts)
    return names


def test_the_pages_write_commands():
    found = commands()
    assert sum(1 for _, c in found if c.startswith("zsmc check")) > 20
    assert any(c.startswith("python -m bench.") for _, c in found)


@pytest.mark.parametrize("page,command", [c for c in commands() if c[1].startswith("zsmc ")])
def test_every_zsmc_command_names_what_exists(page, command):
    w = words(command)[1:]
    if not w or w[0].startswith("-"):
        assert not w or set(w) <= {"-h", "--help", "--version"}, (page, command)
        return
    for name in w[0].split("|"):
        assert name in main.commands, (page, command, name)
    cmd = main.commands[w[0].split("|")[0]]
    rest = w[1:]
    if isinstance(cmd, click.Group) and rest and not rest[0].startswith("-"):
        for name in rest[0].split("|"):
            assert name in cmd.commands, (page, command, name)
        cmd, rest = cmd.commands[rest[0].split("|")[0]], rest[1:]
    known = options_of(cmd)
    for token in rest:
        if token.startswith("-") and not re.fullmatch(r"-\d+", token):
            assert token.split("=")[0] in known, (page, command, token)


@pytest.mark.parametrize("command", sorted({c for c in (" ".join(words(c)) for _, c in commands())
                                             if re.fullmatch(r"zsmc (list( \w+)?|\w+ -h|\w+ --help)", c)}))
def test_the_cheap_zsmc_commands_run(command):
    res = run(*command.split()[1:])
    assert res.exit_code == 0, (command, res.stdout, res.stderr)


def python_modules() -> dict:
    """``{module: options used}`` of every ``python -m`` command of ours the pages write."""
    out = {}
    for _, command in commands():
        w = words(command)
        if len(w) < 3 or w[1] != "-m" or w[2].split(".")[0] not in ("bench", "cli"):
            continue
        out.setdefault(w[2], set()).update(t.split("=")[0] for t in w[3:] if t.startswith("--"))
    return out


@pytest.mark.parametrize("module", sorted(python_modules()))
def test_every_python_m_command_has_its_options(module):
    res = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True,
                         check=False, timeout=120)
    assert res.returncode == 0, (module, res.stderr)
    for option in python_modules()[module]:
        assert option in res.stdout, (module, option)
