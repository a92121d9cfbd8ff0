"""Every expressible mutation of model.mutations is found with its expected property,
and its base version is silent for that property on the same scenario and depth
(zsmalloc-protocol.md section 4; issue 3, "What must be shown")."""

from __future__ import annotations

import functools

import pytest

from checker import UsageError, explore
from checker.monitor import ENGINE_PROPERTIES, REGISTRY
from model.registry import MUTATIONS, VERSIONS, make_build, variant_for

# mutation -> (scenario, depth): the smallest scenario where the bug is reachable.
WHERE = {
    "free-drops-pool-lock-early": ("read-compact", 1),
    "free-without-pool-lock": ("read-compact", 1),
    "compact-skips-write-lock": ("up-read-compact", 1),
    "compact-keeps-src": ("smoke", 1),
    "read-end-unlock-first": ("up-read-compact", 1),
    "preemptible-writer": ("up-read-migrate", 1),
    "blocking-writer": ("up-read-compact", 1),
    "lock-zspage-unlocked-walk": ("free-deferred", 1),
    "lock-zspage-resumes-from-failed-page": ("free-deferred", 1),
    "lock-zspage-caches-first-page": ("free-deferred", 1),
    "async-free-no-stat": ("free-deferred", 1),
    "free-without-page-locks": ("smoke", 1),
    "compact-unlocks-isolated": ("smoke", 1),
    "migrate-rewrites-before-trylock": ("up-read-migrate", 1),
    "compact-holds-write-lock-across-resched": ("smoke", 1),
    "lock-zspage-sleeps-under-read-lock": ("free-deferred", 1),
    "map-area-without-local-lock": ("up-clients", 1),
    "sleeping-class-lock": ("smoke", 1),
    "write-second-half-after-unlock": ("read-migrate", 1),
    "kick-deferred-free-forgotten": ("free-migrate", 1),
    "rt-lock-in-preempt-disabled": ("malloc-free", 1),
    "irq-reader": ("irq-read-migrate", 1),
    "relaxed-zspage-lock": ("write-migrate", 1),
}

# Mutations plain DFS also finds within a second (the others need DPOR's reduction:
# DFS runs past 60 s on read-compact, read-migrate and up-clients).
DFS_FINDS = ("async-free-no-stat", "blocking-writer", "compact-holds-write-lock-across-resched",
             "compact-keeps-src", "compact-skips-write-lock", "compact-unlocks-isolated",
             "free-without-page-locks", "migrate-rewrites-before-trylock", "preemptible-writer",
             "read-end-unlock-first", "sleeping-class-lock")

EXPRESSIBLE = sorted(n for n, m in MUTATIONS.items() if m.expressible)


def _properties(expected):
    # "bug" is a model BUG_ON, reported whatever the monitors: run none of them
    return [] if expected == "bug" else [expected]


def _explore(cls, scenario, depth, expected, scheduler, config="default", memory_model="sc"):
    build, _ = make_build(cls, scenario, depth, config=config, memory_model=memory_model)
    return explore(build, scheduler=scheduler, properties=_properties(expected),
                   stop_on_violation=True, time_limit=60)


@functools.cache
def _baseline(base, scenario, depth, expected, scheduler, config="default", memory_model="sc"):
    """The base version's result for one (scenario, depth, property, kernel configuration,
    memory model): shared by mutations."""
    r = _explore(VERSIONS[base], scenario, depth, expected, scheduler, config, memory_model)
    return r.complete, tuple(v.property for v in r.violations)


def test_every_expressible_mutation_has_a_scenario():
    assert sorted(WHERE) == EXPRESSIBLE


def test_registered_mutations_are_well_formed():
    props = set(REGISTRY) | {"bug", "deadlock"} | set(ENGINE_PROPERTIES)
    for name, m in MUTATIONS.items():
        assert m.name == name and m.origin and m.summary, name
        assert m.expected_property in props, name
        if m.expressible:
            assert issubclass(m.cls, VERSIONS[m.base]) and m.cls is not VERSIONS[m.base], name
            assert m.cls.__doc__ and "section 4" in m.cls.__doc__, name
            assert f"Must violate: ``{m.expected_property}``" in m.cls.__doc__, name
        else:
            assert m.cls is None and m.reason, name


def test_inexpressible_mutation_is_a_clear_usage_error():
    m = next(m for m in MUTATIONS.values() if not m.expressible)
    with pytest.raises(UsageError, match="cannot be expressed"):
        variant_for(m.base, m.name)


@pytest.mark.parametrize("name", EXPRESSIBLE)
def test_mutation_is_found(name):
    m = MUTATIONS[name]
    scenario, depth = WHERE[name]
    cls = variant_for(m.base, name)
    r = _explore(cls, scenario, depth, m.expected_property, "dpor", m.config, m.memory_model)
    found = [v.property for v in r.violations]
    if found and m.expected_property not in found:
        # Another symptom of the same bug came first (a model BUG_ON: which one
        # the search meets first is a matter of its order, e.g. where dpor takes
        # a choice): the whole search must still find the expected one.
        build, _ = make_build(cls, scenario, depth, config=m.config, memory_model=m.memory_model)
        r = explore(build, scheduler="dpor", properties=_properties(m.expected_property),
                    stop_on_violation=False, time_limit=60)
        found = [v.property for v in r.violations]
    assert m.expected_property in found, (name, found)


@pytest.mark.parametrize("name", DFS_FINDS)
def test_mutation_is_found_by_dfs(name):
    m = MUTATIONS[name]
    scenario, depth = WHERE[name]
    r = _explore(variant_for(m.base, name), scenario, depth, m.expected_property, "dfs")
    assert m.expected_property in [v.property for v in r.violations], name


@pytest.mark.parametrize("name", EXPRESSIBLE)
def test_base_version_is_silent(name):
    m = MUTATIONS[name]
    scenario, depth = WHERE[name]
    complete, found = _baseline(m.base, scenario, depth, m.expected_property, "dpor", m.config,
                                m.memory_model)
    assert complete, (m.base, scenario, depth)
    assert m.expected_property not in found, (m.base, scenario, found)


def test_minchans_alternative_deadlocks_only_with_the_blocking_writer():
    """Catalogue #4's differential: the same lock_zspage in upstream (c) is no deadlock,
    since migration only trylocks the zspage lock and backs off with -EINVAL."""
    legacy_cls = MUTATIONS["lock-zspage-sleeps-under-read-lock"].cls

    class UpstreamAlternative(VERSIONS["upstream"]):
        def lock_zspage(self, zspage):
            yield from self.zspage_read_lock(zspage)
            page = yield from self.get_first_zpdesc(zspage)
            while page is not None:
                yield from self.zpdesc_lock(page)
                page = yield from self.get_next_zpdesc(page)
            yield from self.zspage_read_unlock(zspage)

    found = _explore(legacy_cls, "free-deferred", 1, "deadlock", "dpor")
    assert "deadlock" in [v.property for v in found.violations]
    r = _explore(UpstreamAlternative, "free-deferred", 1, "deadlock", "dpor")
    assert r.complete and not r.violations, [v.property for v in r.violations]


RT_ONLY = sorted(n for n in EXPRESSIBLE if MUTATIONS[n].config == "rt")


def test_the_rt_catalogue_entry_is_a_mutation():
    assert "rt-lock-in-preempt-disabled" in RT_ONLY


@pytest.mark.parametrize("name", RT_ONLY)
def test_an_rt_mutation_is_silent_on_a_non_rt_kernel(name):
    # Its bug is the configuration's: the same code on !PREEMPT_RT, every property.
    m = MUTATIONS[name]
    scenario, depth = WHERE[name]
    build, _ = make_build(variant_for(m.base, name), scenario, depth)
    r = explore(build, stop_on_violation=False, time_limit=60)
    assert r.complete and not r.violations, [v.property for v in r.violations]
