"""checker.hypothesis_constants: a seed names one Hypothesis run, whatever the process imported."""

from __future__ import annotations

import importlib
import sys

from hypothesis import Phase, given, settings
from hypothesis import seed as fixed_seed
from hypothesis import strategies as st

from checker.hypothesis_constants import seed_only


def draws() -> list:
    seen = []

    @settings(max_examples=300, database=None, phases=[Phase.generate], deadline=None)
    @fixed_seed(7)
    @given(st.integers(0, 10**6))
    def test(x):
        seen.append(x)

    test()
    return seen


def _import_constants(tmp_path, monkeypatch):
    # A local module full of one unusual constant: Hypothesis mines local
    # modules' source for constants to draw now and then.
    (tmp_path / "zsmc_consts_probe.py").write_text(
        "".join(f"C{i} = {424242 + i}\n" for i in range(50)))
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("zsmc_consts_probe")


def test_an_import_changes_the_draws_of_a_seed_without_it(tmp_path, monkeypatch):
    # The hazard this module exists for (if a Hypothesis release drops its
    # mining, this test says so and the module can go).
    before = draws()
    _import_constants(tmp_path, monkeypatch)
    try:
        after = draws()
    finally:
        sys.modules.pop("zsmc_consts_probe", None)
    assert any(424242 <= x < 424292 for x in after)
    assert before != after


def test_within_seed_only_the_draws_depend_on_the_seed_alone(tmp_path, monkeypatch):
    with seed_only():
        before = draws()
    _import_constants(tmp_path, monkeypatch)
    try:
        with seed_only():
            after = draws()
        outside = draws()
    finally:
        sys.modules.pop("zsmc_consts_probe", None)
    assert before == after
    assert not any(424242 <= x < 424292 for x in after)
    # Put back on the way out: Hypothesis's own behaviour is untouched elsewhere.
    assert any(424242 <= x < 424292 for x in outside)
