"""The four-role scenarios of issue 18 (``mixed-a``, ``mixed-b``): their layouts by
CPU count, and the catalogue's mutations that these roles reach, found there
with their property (zsmalloc-protocol.md section 4), the deadlock included
where two roles share a CPU."""

from __future__ import annotations

import pytest

from checker import explore
from model.registry import MUTATIONS, SCENARIOS, make_build, variant_for

# Mutations of the roles these scenarios run (a reader, migration, compaction,
# a freer of an object compaction does not move): the deferred-free worker's,
# the map API's, the interrupt reader's and the freer-moved-object ones need
# roles or objects these scenarios do not have.
FOUND = ("blocking-writer", "compact-holds-write-lock-across-resched", "compact-keeps-src",
         "compact-skips-write-lock", "compact-unlocks-isolated", "free-without-page-locks",
         "migrate-rewrites-before-trylock", "preemptible-writer", "sleeping-class-lock",
         "write-second-half-after-unlock")


def _first(name, scenario, properties, cpus=2):
    m = MUTATIONS[name]
    build, _ = make_build(variant_for(m.base, name), scenario, 1, cpus)
    return explore(build, properties=properties, stop_on_violation=True, time_limit=60)


@pytest.mark.parametrize("scenario", ["mixed-a", "mixed-b"])
def test_two_roles_on_each_cpu_and_one_cpu_each_with_four(scenario):
    scen = SCENARIOS[scenario]
    assert not scen.default and scen.review and scen.default_cpus == 2
    for cpus, per_cpu in ((2, [2, 2]), (4, [1, 1, 1, 1]), (1, [4])):
        _, params = make_build(variant_for("upstream", None), scenario, 1, cpus)
        got = [sum(t["cpu"] == c for t in params["tasks"]) for c in range(cpus)]
        assert got == per_cpu, (cpus, got)
    _, params = make_build(variant_for("upstream", None), scenario, 1, 2)
    on0 = {t["role"] for t in params["tasks"] if t["cpu"] == 0}
    assert on0 == ({"client", "migration"} if scenario == "mixed-a" else {"client", "compaction"})


@pytest.mark.parametrize("scenario", ["mixed-a", "mixed-b"])
@pytest.mark.parametrize("name", FOUND)
def test_the_mutation_is_found_in_the_mixed_scenario(name, scenario):
    m = MUTATIONS[name]
    props = [] if m.expected_property == "bug" else [m.expected_property]
    r = _first(name, scenario, props)
    assert m.expected_property in [v.property for v in r.violations], (name, scenario, r.reason)


@pytest.mark.parametrize("scenario", ["mixed-a", "mixed-b"])
def test_a_writer_preempted_on_its_readers_cpu_deadlocks_only_when_they_share_it(scenario):
    # preemptible-writer (hazard 14): the reader spins on a zspage writer
    # preempted on its own CPU.  All four on one CPU, it deadlocks; one CPU
    # each, nobody is preempted under a spinner.  (Two by two: below for
    # mixed-a; mixed-b has no deadlock, its search completes clean in about a
    # minute: compaction, the reader's CPU mate, holds the zspage write lock
    # only under spinning locks; docs/benchmarks.md, "Four roles by CPU count".)
    r = _first("preemptible-writer", scenario, ["deadlock"], cpus=1)
    assert "deadlock" in [v.property for v in r.violations]


def test_a_writer_preempted_alone_on_its_cpu_never_deadlocks():
    # One CPU each, mixed-a and mixed-b are one program (they differ only in which
    # roles share a CPU): explored once, to the end, with no time limit (a completeness
    # claim; under load the 60 s of _first did not suffice).
    m = MUTATIONS["preemptible-writer"]
    tasks = [make_build(variant_for(m.base, m.name), s, 1, 4)[1]["tasks"] for s in ("mixed-a", "mixed-b")]
    for ts in tasks:
        assert len({t["cpu"] for t in ts}) == len(ts)
    assert [{**t, "cpu": None} for t in tasks[0]] == [{**t, "cpu": None} for t in tasks[1]]
    build, _ = make_build(variant_for(m.base, m.name), "mixed-a", 1, 4)
    r4 = explore(build, properties=["deadlock"], stop_on_violation=True)
    assert r4.complete and not r4.violations


def test_a_writer_preempted_on_its_readers_cpu_deadlocks_two_by_two():
    # mixed-a: the reader shares CPU 0 with migration, a zspage writer; with
    # sections ordered by their footprint (checker/schedulers/contiguity.py)
    # the search reaches hazard 14 in this layout too.
    r = _first("preemptible-writer", "mixed-a", ["deadlock"], cpus=2)
    assert "deadlock" in [v.property for v in r.violations]
