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
