"""Running ``zsmc`` in the test process: one helper for every test module that needs it."""

from __future__ import annotations

from click.testing import CliRunner

from cli import main


def run(*args):
    """``zsmc ARGS`` in this process (fast): ``res.exit_code``, ``res.stdout``, ``res.stderr``
    apart (click 8.1 mixes them unless told not to; 8.2 keeps them apart already)."""
    try:
        runner = CliRunner(mix_stderr=False)  # click 8.1
    except TypeError:
        runner = CliRunner()
    return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)


def check_trace_replays(folder, param: str, value: str, option: str, prop: str):
    """The one trace a check wrote under ``folder`` records ``param = value`` in its
    program's params and ``option value`` in its command, and replays ``prop``."""
    import json
    [path] = folder.glob("*.json")
    trace = json.loads(path.read_text())
    assert trace["program"]["params"][param] == value
    assert f"{option} {value}" in trace["meta"]["command"]
    again = run("replay", path)
    assert again.exit_code == 1 and f"reproduced: [{prop}]" in again.stdout
