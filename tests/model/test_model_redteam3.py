"""Held-out bug variants, third round (tests/variants/redteam3/*.py): kernel patches written
from zsmalloc-protocol.md on what rounds 1 and 2 did not touch -- the 6.15 zspage lock's
internals (count, inner spinlock, lockdep annotations), the obj_read/obj_write API, zs_malloc's
two paths, find_get_zspage and insert_zspage, the compaction loop's exits, the handle rewrite
of migration, the 2026 proposals of §1 (lockless zs_free with a class index, pages freed
after the class unlock), PREEMPT_RT and interrupt callers.

Each real bug must be found, with the property named, on a fast scenario; the base version
must stay silent on the same scenario and CPU count.  Not-bugs must pass on the scenarios that
run the code they change.  What the round exposed (tests below name each mechanism):

* migrate_zspage_ignores_dst_full: a scenario gap -- no default scenario had a compaction
  source with more objects than its destination had room for, so migrate_zspage's "dst full"
  exit never decided alone; the new default scenario compact-partial has one.
* migrate_zspage_hoists_used_obj: a scenario gap -- no default scenario moved two objects in
  one migrate_zspage call (nor compacted more than one size class); compact-partial's second,
  larger class does both.
* migrate_rewrites_first_object_only: a scenario gap -- no default scenario migrated a page in
  which two allocated objects start, so the handle-rewrite loop never rewrote a second handle;
  the new default scenario migrate-full does.
* v5_migrate_trylock_before_class_lock: a false alarm on !PREEMPT_RT -- writers-never-block
  reported a writer spinning for class->lock, whose holders are atomic (bounded, no rule
  broken); the property now reports only sleeping locks there, as it already did for writer
  context locks, and leaves cycles to lock-order and deadlock (its 6.15 twin, a real ABBA
  through zsl->lock, is found by lock-order).  On PREEMPT_RT it is found (sleep-in-atomic).
* zsl_read_unlock_release_after_dec: judged not a bug in round 3 and passed; it is one where
  lockdep is on (round 4): rwsem_release(&zsl->dep_map) after the decrement touches the
  zspage a writer may have freed since.  A lock release had no footprint the free conflicts
  with, so the order "free, then release" was never explored; a release now reads its
  owner's lifetime as an acquisition does, and the race with the free is found.
* obj_write_takes_write_lock: was loud, not found: a trylock retry loop (lock, test, unlock,
  again) is not a plain re-read, so checker/spinloop.py did not turn it into a wait and the
  check ended at the step cap (exit 2).  checker/retryloop.py now turns a round that gives
  back what it takes into a wait for what it read: the deadlock is found.
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

HERE = pathlib.Path(__file__).parent.parent / "variants" / "redteam3"

# file -> (scenario, cpus, property the violation must include)
FOUND = {
    "compact_resched_keeps_class_lock": ("up-read-compact", 1, "sleep-in-atomic"),
    "find_get_zspage_from_full_list": ("clients", 2, "bug"),
    "free_lockless_no_reread": ("read-compact", 1, "bug"),
    "free_pages_unlocked_before_reset": ("read-migrate", 2, "data-race"),
    "free_stat_before_class_lock": ("two-classes", 2, "bug"),     # round 5: class stats unlocked
    "free_zspage_put_before_unlock": ("up-read-compact", 1, "no-free-while-mapped"),
    "free_zspage_remove_before_trylock": ("compact-migrate", 1, "pool-consistency"),
    "lock_zspage_first_trylock_after_unlock": ("free-deferred", 2, "bug"),
    "malloc_found_skips_fix_fullness": ("read-compact", 2, "pool-consistency"),
    "malloc_new_zspage_no_relock": ("malloc-migrate", 1, "bug"),  # round 5: class stats unlocked
    "migrate_rewrites_first_object_only": ("migrate-full", 2, "pool-consistency"),
    "migrate_trylock_before_class_lock": ("compact-migrate", 2, "lock-order"),
    "migrate_zspage_hoists_used_obj": ("compact-partial", 1, "bug"),
    "migrate_zspage_ignores_dst_full": ("compact-partial", 2, "bug"),
    "obj_read_end_unlock_before_kunmap": ("up-read-compact", 1, "no-free-while-mapped"),
    "obj_read_from_irq": ("irq-read-migrate", 1, "sleep-in-atomic"),
    "obj_write_takes_write_lock": ("clients", 1, "deadlock"),
    "obj_write_spanning_first_page_only": ("up-clients", 1, "data-integrity"),
    "set_movable_blocking_page_lock": ("malloc-free", 2, "sleep-in-atomic"),
    "v5_read_lock_waits_for_readers": ("malloc-free", 1, "deadlock"),
    "v5_unmap_copyback_inverted_mode": ("up-clients", 1, "data-integrity"),
    "zs_object_copy_first_page_only": ("up-read-compact", 1, "data-integrity"),
    "zsl_read_lock_no_count": ("up-read-compact", 1, "no-free-while-mapped"),
    "zsl_read_lock_no_lockdep_acquire": ("up-read-compact", 1, "lock-balance"),
    "zsl_read_unlock_release_after_dec": ("up-read-compact", 1, "no-free-while-mapped"),
    "zsl_read_unlock_unlocked_dec": ("malloc-free", 2, "pool-consistency"),
    "zsl_write_trylock_drops_spinlock": ("up-read-migrate", 1, "writers-never-block"),
    "zsl_write_unlock_keeps_count": ("up-read-migrate", 1, "pool-consistency"),
    "zsl_write_unlock_no_lockdep_release": ("up-read-compact", 1, "no-free-while-mapped"),
}
# Bugs only under PREEMPT_RT (--config rt): file -> (scenario, cpus, property).
FOUND_RT = {
    "free_preempt_disabled": ("malloc-free", 1, "sleep-in-atomic"),
    "v5_migrate_trylock_before_class_lock": ("up-read-migrate", 1, "sleep-in-atomic"),
}
# Not bugs in the kernel's default (!RT) configuration (each docstring says why): file ->
# the scenarios that run the changed code next to the race it is about (every CPU count).
NOT_A_BUG = {
    "async_free_stat_after_free": ("free-deferred", "two-classes"),
    "compact_can_compact_once": ("compact-partial", "read-compact"),
    "compact_putback_before_write_unlock": ("up-read-compact", "compact-partial"),
    "find_get_zspage_skips_empty": ("clients", "clients-worker"),
    "free_lockless_class_idx": ("free-migrate", "malloc-free"),
    "free_pages_after_class_unlock": ("free-migrate", "malloc-free"),
    "free_preempt_disabled": ("malloc-free", "free-migrate"),
    "free_stat_after_fix_fullness": ("malloc-free", "free-migrate"),
    "insert_zspage_at_tail": ("clients", "compact-partial"),
    "isolate_src_fullest_first": ("compact-partial", "compact-wide"),
    "lock_zspage_put_after_relock": ("free-deferred", "two-classes"),
    "lock_zspage_sleeps_under_read_lock": ("free-deferred", "clients-worker"),
    "malloc_movable_before_obj_malloc": ("malloc-migrate", "malloc-free"),
    "malloc_obj_malloc_before_relock": ("malloc-free", "malloc-migrate"),
    "migrate_get_newpage_before_unlock": ("up-read-migrate", "migrate-full"),
    "migrate_reset_old_page_under_locks": ("up-read-migrate", "migrate-migrate"),
    "obj_read_end_kunmap_first": ("up-read-compact", "read-migrate"),
    "obj_write_second_half_first": ("up-clients", "read-compact"),
    "v5_migrate_trylock_before_class_lock": ("up-read-migrate", "compact-migrate"),
    "v5_unmap_read_unlock_before_local_unlock": ("up-clients", "read-migrate"),
    "v5_write_unlock_inc": ("up-read-migrate", "up-read-compact"),
    "zs_compact_smallest_class_first": ("compact-compact", "compact-worker"),
    "zsl_raw_spinlock": ("up-read-migrate", "compact-migrate"),
    "zsl_write_trylock_annotate_first": ("up-read-compact", "compact-migrate"),
    "zsl_write_trylock_cnt_not_positive": ("up-read-migrate", "compact-migrate"),
}
# Not bugs on PREEMPT_RT either: file -> scenarios, checked with --config rt.
NOT_A_BUG_RT = {
    "zsl_raw_spinlock": ("up-read-migrate", "compact-migrate"),
    "lock_zspage_sleeps_under_read_lock": ("free-deferred",),
}
GAP = ()


def variant(name):
    path = HERE / f"{name}.py"
    cls = re.search(r"^class (\w+)", path.read_text(), re.MULTILINE).group(1)
    return getattr(load_file(str(path)), cls)


def violations(cls, scenario, cpus, config=None, **kw):
    s = SCENARIOS[scenario]
    return explore(lambda: build_program(cls, s, 1, cpus, config=config), stop_on_violation=True, **kw)


def base_of(cls):
    return next(v for v in VERSIONS.values() if issubclass(cls, v))


@functools.cache
def base_is_silent(base, scenario, cpus, config=None):
    """The correct protocol, searched completely on the same program: no violation."""
    clean = violations(base, scenario, cpus, config)
    return clean.violations == [] and clean.complete


def test_every_variant_file_is_classified():
    files = {p.stem for p in HERE.glob("*.py")}
    found_only_on_rt = set(FOUND_RT) - set(NOT_A_BUG)
    assert files == set(FOUND) | found_only_on_rt | set(NOT_A_BUG) | set(GAP)
    assert set(NOT_A_BUG_RT) <= set(NOT_A_BUG)


@pytest.mark.parametrize("name,config", [(n, None) for n in sorted(FOUND)]
                         + [(n, "rt") for n in sorted(FOUND_RT)])
def test_redteam3_variant_is_found(name, config):
    scenario, cpus, prop = (FOUND_RT if config else FOUND)[name]
    cls = variant(name)
    # data-race aside unless it is the finding (test_model_redteam.violations says why)
    props = list(NAMES) if prop != "data-race" else None
    r = violations(cls, scenario, cpus, config, properties=props)
    assert prop in {v.property for v in r.violations}, [v.message for v in r.violations]
    assert base_is_silent(base_of(cls), scenario, cpus, config)


@pytest.mark.parametrize("name,config", [(n, None) for n in sorted(NOT_A_BUG)]
                         + [(n, "rt") for n in sorted(NOT_A_BUG_RT)])
def test_redteam3_non_bug_passes(name, config):
    cls = variant(name)
    for scenario in (NOT_A_BUG_RT if config else NOT_A_BUG)[name]:
        for cpus in SCENARIOS[scenario].counts:
            r = violations(cls, scenario, cpus, config)
            assert r.violations == [] and r.complete, (scenario, cpus, [v.message for v in r.violations])


# -- the mechanisms the passing variants exposed ---------------------------------------------
def _pool(scenario, version="upstream"):
    return build_program(VERSIONS[version], SCENARIOS[scenario], 1, 1).context


def test_compact_partial_has_a_source_larger_than_its_destinations_room():
    # migrate_zspage_ignores_dst_full: isolate_dst takes the fullest zspage, isolate_src the
    # emptiest; the bug needs src.inuse > objs - dst.inuse with zs_can_compact still true.
    s = SCENARIOS["compact-partial"]
    assert s.default and set(s.counts) == {1, 2}
    small, large = _pool("compact-partial").size_class
    inuse = sorted(z.inuse for z in small.ghost_zspages)
    dst, src = inuse[-1], inuse[0]
    assert src > small.objs_per_zspage - dst
    assert (len(inuse) * small.objs_per_zspage - sum(inuse)) // small.objs_per_zspage >= 1
    # migrate_zspage_hoists_used_obj: in the larger class (compacted first) one call moves
    # two objects: the source's objects all fit the destination.
    dst, src = (z.inuse for z in large.ghost_zspages)
    assert src >= 2 and src <= large.objs_per_zspage - dst


def test_migrate_full_migrates_a_page_starting_two_allocated_objects():
    # migrate_rewrites_first_object_only: the handle-rewrite loop must rewrite two handles.
    s = SCENARIOS["migrate-full"]
    assert s.default and set(s.counts) == {1, 2}
    pool = _pool("migrate-full")
    [target] = [t for t in s.tasks if t.role == "migration"]
    [page] = [p for p in pool.ghost_pages if p.name in target.targets]
    allocated = [i for i in page.first_objs if page.mem.get(("hdr", i), ("free",))[0] == "alloc"]
    assert len(allocated) >= 2
