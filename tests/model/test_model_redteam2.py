"""Held-out bug variants, second round (tests/variants/redteam2/*.py): kernel patches written
from zsmalloc-protocol.md on what round 1 (test_model_redteam.py) did not cover -- the v5 and
legacy zspage locks, the map API's per-CPU area, the obj_read API, the deferred-free worker,
the compaction loop, page migration, interrupt readers, lockdep annotations and preemption.

Each real bug must be found, with the property named, on a fast scenario; the base version
must stay silent on the same scenario and CPU count.  Not-bugs must pass on the scenarios that
run the code they change.  Five real bugs passed before the model was fixed (tests below name
the mechanism each exposed):

* migrate_get_newpage_before_trylock: no end check for page references -- a page nothing
  references that was never freed (a leak) went unseen; :func:`model.invariants.page_reference_problems`.
* free_pages_count_in_free_zspage: ``pool->pages_allocated`` was never checked; I6 now
  compares it with the live zspages' pages.
* compact_flag_left_set_on_early_return: no end check for ``compaction_in_progress`` -- a
  zs_compact exit that skips clearing it silences compaction for ever; end_problems checks it.
* async_free_one_per_class: a scenario gap -- no default scenario ever had two empty zspages on
  a 0% list when the worker ran.
* async_free_one_class_lock: a scenario gap -- every default scenario had one size class, so
  a class's lists changed under another class's lock went unseen (only the samplers on the
  large family found it).
  The new default scenario two-classes closes both: the worker faces a backlog of two empty
  zspages in the clients' class and a zs_free that empties a zspage of a second class.

legacy_unmap_local_unlock_before_copyback is not a bug on !PREEMPT_RT (the zspage rwlock keeps
the mapper atomic past local_unlock) and is one on PREEMPT_RT, where it is found.
"""

from __future__ import annotations

import functools
import pathlib
import re

import pytest

from checker import explore
from model.registry import VERSIONS
from model.scenarios import SCENARIOS, build_program
from model.variant_files import load_file
from properties import NAMES

HERE = pathlib.Path(__file__).parent.parent / "variants" / "redteam2"

# file -> (scenario, cpus, property the violation must include)
FOUND = {
    "async_free_batch_under_class_lock": ("free-deferred", 1, "sleep-in-atomic"),
    "async_free_one_class_lock": ("two-classes", 2, "bug"),
    "async_free_one_per_class": ("two-classes", 1, "pool-consistency"),
    "compact_flag_left_set_on_early_return": ("compact-compact", 1, "pool-consistency"),
    "compact_keeps_dst_after_resched": ("compact-compact", 2, "pool-consistency"),
    "compact_trylock_fail_tries_next": ("up-read-compact", 1, "pool-consistency"),
    "free_pages_count_in_free_zspage": ("free-deferred", 1, "pool-consistency"),
    "kick_after_class_unlock": ("compact-migrate", 1, "pool-consistency"),
    "legacy_compact_locks_dst_unannotated": ("compact-compact", 2, "lock-order"),
    "legacy_map_from_irq": ("irq-read-migrate", 1, "irq-lock-state"),
    "legacy_migrate_zspage_lock_first": ("free-migrate", 2, "lock-order"),
    "legacy_unmap_read_unlock_before_copyback": ("free-migrate", 2, "data-race"),
    "lock_zspage_get_after_unlock": ("free-deferred", 1, "no-free-while-mapped"),
    "lock_zspage_restart_from_first": ("free-deferred", 1, "deadlock"),
    "malloc_find_zspage_unlocked": ("read-compact", 2, "bug"),
    "malloc_handle_under_class_lock": ("malloc-free", 2, "sleep-in-atomic"),
    "migrate_class_lock_before_pool": ("compact-migrate", 1, "lock-order"),
    "migrate_copy_before_locks": ("compact-migrate", 1, "data-race"),
    "migrate_rewrites_spanning_into_page": ("read-migrate", 1, "pool-consistency"),
    "migrate_get_newpage_before_trylock": ("up-read-migrate", 1, "pool-consistency"),
    "trylock_zspage_unlock_skips_first": ("compact-migrate", 1, "bug"),
    "v5_migrate_tag_before_trylock": ("up-read-migrate", 1, "bug"),
    "v5_read_begin_uses_map_area": ("up-read-compact", 1, "sleep-in-atomic"),
    "v5_unmap_local_unlock_before_copyback": ("up-clients", 1, "data-integrity"),
    "v5_read_lock_cmpxchg_fallback_inc": ("free-deferred", 2, "deadlock"),
    "v5_read_unlock_read_then_write": ("malloc-free", 1, "pool-consistency"),
    "v5_write_trylock_fail_keeps_preempt": ("up-read-migrate", 1, "sleep-in-atomic"),
    "zsl_read_unlock_no_lockdep_release": ("compact-worker", 1, "no-free-while-mapped"),
}
# Bugs only under PREEMPT_RT (--config rt): file -> (scenario, cpus, property).
FOUND_RT = {
    "legacy_unmap_local_unlock_before_copyback": ("up-clients", 1, "data-integrity"),
}
# Not bugs in the kernel's default (!RT) configuration (each docstring says why): file ->
# the scenarios that run the changed code next to the race it is about (every CPU count).
NOT_A_BUG = {
    "compact_without_in_progress_flag": ("compact-compact",),
    "free_handle_before_obj_free": ("clients", "read-migrate"),
    "free_handle_under_class_lock": ("clients", "free-migrate"),
    "kick_deferred_free_if_idle": ("free-migrate", "clients-worker"),
    "legacy_compact_trylock_src": ("up-read-compact", "compact-compact"),
    "legacy_compact_locks_dst_nested": ("up-read-compact", "compact-compact"),
    "legacy_map_local_lock_first": ("up-clients", "read-compact"),
    "legacy_unmap_always_copies_back": ("up-clients", "read-compact"),
    "legacy_unmap_local_unlock_before_copyback": ("up-clients", "read-compact"),
    "migrate_lifo_unlock": ("up-read-migrate", "compact-migrate"),
    "obj_malloc_record_before_header": ("malloc-free", "compact-wide"),
    "putback_clears_isolated_after_unlock": ("up-read-migrate", "compact-migrate"),
    "putback_kicks_free_work": ("free-migrate", "up-read-migrate"),
    "read_begin_copy_before_read_lock": ("up-read-compact", "up-read-migrate"),
    "read_begin_copy_under_pool_lock": ("up-read-compact", "up-read-migrate"),
    "v5_read_lock_annotate_after": ("up-read-migrate", "up-read-compact"),
    "v5_write_trylock_preempt_after_cmpxchg": ("up-read-migrate", "up-read-compact"),
}
# Found by a sampler on the large family too (before the two-classes scenario, the only way):
# file -> (scenario, scheduler, executions, property).
SAMPLED = {
    "async_free_one_class_lock": ("large", "random", 400, "bug"),    # seed 0: found at 176
}
GAP = ()


def variant(name):
    path = HERE / f"{name}.py"
    cls = re.search(r"^class (\w+)", path.read_text(), re.MULTILINE).group(1)
    return getattr(load_file(str(path)), cls)


def violations(cls, scenario, cpus, config=None, prop=None):
    """``prop``: as in test_model_redteam.violations (data-race aside unless it is the one)."""
    s = SCENARIOS[scenario]
    props = list(NAMES) if prop not in (None, "data-race") else None
    return explore(lambda: build_program(cls, s, 1, cpus, config=config), properties=props,
                   stop_on_violation=True)


def base_of(cls):
    return next(v for v in VERSIONS.values() if issubclass(cls, v))


@functools.cache
def base_is_silent(base, scenario, cpus, config=None):
    """The correct protocol, searched completely on the same program: no violation."""
    clean = violations(base, scenario, cpus, config)
    return clean.violations == [] and clean.complete


def test_every_variant_file_is_classified():
    files = {p.stem for p in HERE.glob("*.py")}
    assert files == set(FOUND) | set(FOUND_RT) | set(NOT_A_BUG) | set(GAP)


@pytest.mark.parametrize("name", sorted(SAMPLED))
def test_redteam2_variant_is_found_by_sampling_the_large_pool(name):
    from model.registry import make_build
    scenario, scheduler, executions, prop = SAMPLED[name]
    cls = variant(name)
    props = list(NAMES) if prop != "data-race" else None
    found = explore(make_build(cls, scenario, 1)[0], scheduler=scheduler, max_executions=executions,
                    properties=props)
    assert prop in {v.property for v in found.violations}, [v.message for v in found.violations]
    clean = explore(make_build(base_of(cls), scenario, 1)[0], scheduler=scheduler,
                    max_executions=executions, stop_on_violation=False)
    assert clean.violations == []


@pytest.mark.parametrize("name,config", [(n, None) for n in sorted(FOUND)]
                         + [(n, "rt") for n in sorted(FOUND_RT)])
def test_redteam2_variant_is_found(name, config):
    scenario, cpus, prop = (FOUND_RT if config else FOUND)[name]
    cls = variant(name)
    r = violations(cls, scenario, cpus, config, prop)
    assert prop in {v.property for v in r.violations}, [v.message for v in r.violations]
    assert base_is_silent(base_of(cls), scenario, cpus, config)


@pytest.mark.parametrize("name", sorted(NOT_A_BUG))
def test_redteam2_non_bug_passes(name):
    cls = variant(name)
    for scenario in NOT_A_BUG[name]:
        for cpus in SCENARIOS[scenario].counts:
            r = violations(cls, scenario, cpus)
            assert r.violations == [] and r.complete, (scenario, cpus, [v.message for v in r.violations])


# -- the mechanisms the passing variants exposed ---------------------------------------------
def _zs(version):
    zs = VERSIONS[version]()
    zs.zs_create_pool()
    zs.populate([["x.b", None], [None, "c0.a"], [None, None]])
    zs.pool.free_work.value = zs.pool.free_work.initial = True
    return zs


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_every_page_of_a_fresh_pool_is_accounted(version):
    pool = _zs(version).pool
    assert len(pool.ghost_pages) == 6
    assert pool.end_problems() == [] and pool.consistency_problems() == []


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_a_page_nothing_references_but_never_freed_is_a_leak(version):
    # migrate_get_newpage_before_trylock: a reference taken before the trylock commit point
    # and not dropped on -EINVAL keeps the migration target alive for ever.
    zs = _zs(version)
    newpage = zs.alloc_migration_target()
    assert newpage in zs.pool.ghost_pages
    [problem] = zs.pool.end_problems()
    assert newpage.name in problem and "leaked" in problem
    newpage.ref.value = 0
    assert zs.pool.end_problems() == []


@pytest.mark.parametrize("version", sorted(VERSIONS))
@pytest.mark.parametrize("ref", [0, 2])
def test_a_page_of_a_live_zspage_holds_exactly_the_zspage_reference(version, ref):
    # A put too many frees a page still in a chain; a get too many leaks it with its zspage.
    pool = _zs(version).pool
    page = pool.size_class[0].ghost_zspages[1].first.next
    page.ref.value = ref
    [problem] = pool.end_problems()
    assert page.name in problem and f"refcount {ref}" in problem


@pytest.mark.parametrize("version", sorted(VERSIONS))
@pytest.mark.parametrize("drift", [-2, 2])
def test_pages_allocated_must_match_the_live_zspages(version, drift):
    # free_pages_count_in_free_zspage: the deferred path forgot pool->pages_allocated.
    pool = _zs(version).pool
    pool.pages_allocated += drift
    assert not pool.consistency_problems()      # an atomic counter: judged at the end
    [problem] = pool.end_problems()
    assert "pages_allocated" in problem and str(6 + drift) in problem


def test_two_classes_gives_the_worker_a_backlog():
    # async_free_one_per_class: a worker must face two empty zspages on one 0% list at once.
    s = SCENARIOS["two-classes"]
    assert s.free_work_pending and sum(all(k is None for k in z) for z in s.pool) >= 2


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_compaction_in_progress_left_set_is_reported(version):
    # compact_flag_left_set_on_early_return: an early return skipped atomic_set(..., 0).
    pool = _zs(version).pool
    pool.compaction_in_progress.value = 1
    [problem] = pool.end_problems()
    assert "compaction_in_progress" in problem


def test_two_classes_has_a_client_object_alone_in_a_second_class():
    # async_free_one_class_lock: the worker's splice of class 1 must meet a zs_free that
    # empties a class-1 zspage (both change class 1's 0% list) under class 1's own lock.
    from model.scenarios import build_program as build
    s = SCENARIOS["two-classes"]
    assert s.default and 2 in s.counts
    pool = build(VERSIONS["upstream"], s, 1, 2).context
    c0, c1 = pool.size_class
    assert c0.lock is not c1.lock and c0.size <= c1.size
    [z] = [z for z in c1.ghost_zspages if z.inuse]
    assert z.inuse == 1 and "c0.a" in pool.ghost_handles
