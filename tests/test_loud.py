"""Loud, never silent: nothing a check relies on may go missing without an error."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import cli
from checker import InternalError, Program, Task, Var, explore
from checker.monitor import REGISTRY


def tiny():
    v = Var("v")

    def a():
        yield v.write(1)

    return Program([Task(a, "a")])


def test_a_registered_property_that_cannot_load_is_an_internal_error(monkeypatch):
    monkeypatch.setitem(REGISTRY, "broken", "properties.no_such_module_zsmc:Broken")
    with pytest.raises(InternalError, match=r"registered property 'broken' cannot be loaded"):
        explore(tiny)
    # Asking for no property at all is explicit, and fine.
    assert explore(tiny, properties=[]).complete


def test_the_cli_exits_4_when_a_property_cannot_load(monkeypatch):
    monkeypatch.setitem(REGISTRY, "broken", "properties.no_such_module_zsmc:Broken")
    res = CliRunner().invoke(cli.main, ["check", "--scenario", "smoke"])
    assert res.exit_code == 4, res.output
    assert "cannot be loaded" in res.output and "Traceback" not in res.output


def test_the_test_suite_does_not_skip_on_missing_project_modules():
    import pathlib
    import re
    here = pathlib.Path(__file__).parent
    for path in here.rglob("test_*.py"):
        text = path.read_text()
        for m in re.finditer(r"importorskip\(\"([\w.]+)\"\)", text):
            assert m.group(1).split(".")[0] not in ("checker", "model", "properties", "cli"), \
                f"{path.name} skips itself when {m.group(1)} is missing"
