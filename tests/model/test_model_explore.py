"""Exploring the smoke scenario of every version finds no deadlock, no BUG, no violation.

``dpor`` explores the whole space; ``dfs`` (no reduction) is affordable here
with a preemption bound, and in full where the space is small, where it also
checks that dpor reaches exactly the final states dfs reaches.
"""

from __future__ import annotations

import pytest

from checker import explore
from model import VERSIONS
from model.registry import SCENARIOS, make_build

ALL = list(VERSIONS)


def assert_clean(result):
    assert result.complete, result.summary()
    assert result.deadlocks == 0
    assert not result.violations, "\n\n".join(v.render() for v in result.violations)
    assert result.executions > 1


@pytest.mark.parametrize("version", ALL)
def test_smoke_dpor_is_clean(version):
    build, _ = make_build(VERSIONS[version], "smoke", 1)
    assert_clean(explore(build, scheduler="dpor"))


@pytest.mark.parametrize("version", ALL)
def test_smoke_dfs_within_two_preemptions_is_clean(version):
    build, _ = make_build(VERSIONS[version], "smoke", 1)
    assert_clean(explore(build, scheduler="dfs", preemption_bound=2))


@pytest.mark.parametrize("version,scenario", [("legacy", "smoke"), ("upstream", "up-read-compact")])
def test_dpor_reaches_the_final_states_dfs_reaches(version, scenario):
    build, _ = make_build(VERSIONS[version], scenario, 1)
    full = explore(build, scheduler="dfs", stop_on_violation=False)
    reduced = explore(build, scheduler="dpor", stop_on_violation=False)
    assert_clean(full)
    assert_clean(reduced)
    assert reduced.executions < full.executions
    assert reduced.outcomes == full.outcomes
    # the outcomes are real: each names the final pool layout and a consistent pool
    assert all(isinstance(o, tuple) and len(o) == 3 for o in full.outcomes)


@pytest.mark.parametrize("version,layouts", [("legacy", 1), ("upstream", 2), ("v5", 2)])
def test_outcomes_distinguish_what_the_client_did(version, layouts):
    """The final states differ by the client's choice (write vs read); in (b)/(c),
    where a reader makes the compactor's trylock fail, also by the final layout
    (legacy's blocking writer always compacts): observe() is not a constant."""
    build, _ = make_build(VERSIONS[version], "smoke", 1)
    result = explore(build, scheduler="dpor")
    values = {dict(o[1])["c0.a"] for o in result.outcomes}
    assert values == {"'client0.v1'", "'c0.a=init'"}
    assert len({o[0] for o in result.outcomes}) == layouts


def test_one_cpu_scenarios_share_a_cpu_and_two_cpu_ones_do_not():
    for name, s in SCENARIOS.items():
        build, _ = make_build(VERSIONS["upstream"], name, 1)
        program = build()
        cpus = {t.cpu for t in program.specs}
        assert len(cpus) == min(s.default_cpus, len(s.tasks)), name
        assert program.context.consistency_problems() == []
