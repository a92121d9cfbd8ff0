"""The catalogue's minimised traces have the fewest preemptions any violation needs.

Issue 5: for every mutation, the minimised trace in tests/counterexamples/ has
exactly as many preemptions as the smallest preemption bound at which an
exhaustive search finds the bug.  A trace with p preemptions shows the bug is
found at bound p; the search at bound p - 1 must then be complete and clean
for that property.  (The pytest plugin replays each file in every run.)
"""

from __future__ import annotations

import json
import pathlib

import pytest

from checker import explore
from model.registry import build_from_params

TRACES = sorted((pathlib.Path(__file__).parent.parent / "counterexamples").glob("*.json"))


def _load(path):
    trace = json.loads(path.read_text())
    assert trace["format"] == "zsmc-trace"
    return trace


def test_every_expressible_mutation_has_a_counterexample():
    from model.registry import MUTATIONS
    have = {_load(p)["program"]["params"].get("mutation") for p in TRACES}
    want = {name for name, m in MUTATIONS.items() if m.expressible}
    assert want <= have, f"mutations without a trace: {sorted(want - have)}"


@pytest.mark.parametrize("path", TRACES, ids=[p.stem for p in TRACES])
def test_minimised_preemptions_are_the_smallest_bound(path):
    trace = _load(path)
    prop = trace["violation"]["property"]
    p = trace["stats"]["preemptions"]
    if p == 0:
        return  # the trace itself is a violating execution within bound 0
    build = build_from_params(trace["program"]["params"])
    props = [] if prop == "bug" else [prop]
    res = explore(build, scheduler="dfs", preemption_bound=p - 1, properties=props, time_limit=60)
    assert res.complete, f"the search at bound {p - 1} did not finish: {res.reason}"
    assert not any(v.property == prop for v in res.violations), (
        f"{path.stem}: found at bound {p - 1}, but the minimised trace has {p} preemptions")
