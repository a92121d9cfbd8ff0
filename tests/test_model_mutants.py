"""Derived model mutants (bench/model_mutants.py): dpor agrees with its oracles on a
fixed CI sample; the long run over every mutant is ``python -m bench.model_mutants``
(docs/benchmarks.md has its count of programs and mismatches)."""

from __future__ import annotations

import pytest

from bench.model_mutants import TWO_CPUS, check_mutant, mutants

# One per operator (the suite's time: zs_page_migrate without class->lock and free_zspage
# ignoring its trylock result were here too; the long run has every mutant).
SAMPLE = (
    "upstream:lock_zspage:drop-lock:line 9+14",         # lock_zspage loses a read lock (bug #2)
    "upstream:zs_page_migrate:move:line 26",            # a release moved past an access
    "upstream:trylock_zspage:skip-check:line 8",        # trylock_zspage ignores a failed trylock
)


@pytest.fixture(scope="module")
def upstream_mutants():
    return {m.name: m for m in mutants("upstream")}


@pytest.mark.parametrize("version", ["upstream", "v5", "legacy"])
def test_every_operator_yields_mutants(version):
    ops = {m.operator for m in mutants(version)}
    assert ops == {"drop-lock", "move", "skip-check"}


@pytest.mark.parametrize("name", SAMPLE)
def test_dpor_agrees_with_dfs_and_sampling_on_a_mutant(upstream_mutants, name):
    m = upstream_mutants[name]
    assert check_mutant(m, dfs_budget=6000, samples=200) == []


def test_the_sample_is_not_vacuous(upstream_mutants):
    # The differential is only worth something if the mutants break things:
    # dpor finds a violation on the small scenarios for most of them.
    from checker import explore
    from model.scenarios import build_program
    found = 0
    for name in SAMPLE:
        m = upstream_mutants[name]
        for _, scen in TWO_CPUS:
            r = explore(lambda: build_program(m.cls, scen, 1, 2), stop_on_violation=True)
            if r.violations:
                found += 1
                break
    assert found >= 2      # the move of line 26 breaks nothing these scenarios see
