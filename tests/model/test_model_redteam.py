"""Held-out bug variants (tests/variants/redteam/*.py), written as a kernel developer's patch
from zsmalloc-protocol.md and the variant docs, not from the mutation catalogue.

Each real bug must be found, with the property named, on a scenario where its search is fast;
the base version must stay silent on the same scenario and CPU count (the check is not vacuous).
A variant that is not a bug in the kernel is kept too and must pass.  Three of these passed
before the model was fixed (tests below name the mechanism each one exposed):
compact_free_before_copy (zs_object_copy did not copy the handle header), lock_zspage_gives_up
(no end check for a zspage the worker unlinked and never freed), zsl_write_unlock_order (no end
check for a zspage lock counter left behind); migrate_newpage_not_movable, added after them,
passed too (no end check for a page of a live zspage left unmovable).
malloc_movable_after_unlock passed as a scenario gap until scenario malloc-migrate aimed
migration at the frames zs_malloc builds a zspage of, and isolate_movable_page tested movable
before its trylock as the kernel does (tests/model/test_model_malloc_migrate.py).
"""

from __future__ import annotations

import functools
import pathlib
import re

import pytest

from checker import explore
from model.page_memory import object_value
from model.registry import VERSIONS
from model.scenarios import SCENARIOS, build_program
from model.variant_files import load_file
from properties import NAMES

HERE = pathlib.Path(__file__).parent.parent / "variants" / "redteam"

# file -> (scenario, cpus, property the violation must include)
FOUND = {
    "async_free_stat_outside_lock": ("compact-worker", 2, "bug"),       # round 5: class stats unlocked
    "compact_free_before_copy": ("compact-compact", 1, "pool-consistency"),
    "compact_free_before_putback": ("compact-compact", 1, "bug"),
    "compact_unlock_before_final_putback": ("read-compact", 1, "pool-consistency"),
    "free_fullness_before_obj_free": ("clients", 2, "pool-consistency"),
    "free_relock_for_free_zspage": ("clients-worker", 1, "bug"),
    "free_stat_after_unlock": ("clients", 2, "pool-consistency"),
    "lock_zspage_gives_up": ("free-deferred", 1, "pool-consistency"),
    "lock_zspage_next_before_read_lock": ("free-deferred", 2, "bug"),
    "malloc_movable_after_unlock": ("malloc-migrate", 1, "pool-consistency"),
    "malloc_stat_after_unlock": ("clients", 1, "pool-consistency"),
    "migrate_class_unlock_before_chain": ("compact-migrate", 2, "pool-consistency"),
    "migrate_newpage_not_movable": ("up-read-migrate", 1, "pool-consistency"),
    "migrate_no_newpage_ref": ("compact-migrate", 1, "bug"),
    "migrate_offsets_from_newpage": ("migrate-migrate", 1, "data-integrity"),
    "migrate_trylock_fail_keeps_class_lock": ("up-read-migrate", 1, "sleep-in-atomic"),
    "obj_index_mask": ("compact-wide", 2, "pool-consistency"),
    "read_begin_drops_pool_lock_early": ("up-read-compact", 1, "no-free-while-mapped"),
    "v5_map_mode_before_local_lock": ("up-clients", 1, "data-integrity"),
    "v5_read_lock_check_then_inc": ("free-deferred", 2, "deadlock"),
    # found first by writers-never-block since round 5 (the lock word is -1 after the
    # annotation's release, with preemption on), before the deadlock it leads to
    "v5_write_unlock_preempt_first": ("up-read-migrate", 1, "writers-never-block"),
    "zsl_read_lock_unlocked_inc": ("free-deferred", 2, "no-free-while-mapped"),
    "zsl_write_unlock_order": ("up-read-migrate", 1, "pool-consistency"),
}
# Not bugs in the kernel (the variant's docstring says why): every default scenario passes.
NOT_A_BUG = ("compact_write_unlock_before_migrate",)
# Real bugs no default scenario reaches (none left: malloc_movable_after_unlock was one).
GAP = ()


def variant(name):
    path = HERE / f"{name}.py"
    cls = re.search(r"^class (\w+)", path.read_text(), re.MULTILINE).group(1)
    return getattr(load_file(str(path)), cls)


def violations(cls, scenario, cpus, prop=None):
    """``prop``: the property the finding is of; if not ``data-race``, the others are checked
    without it (a patch that breaks a lock also races, since stop 30 often first, on the
    declared memory the lock guarded: tests/model/test_model_declared.py)."""
    s = SCENARIOS[scenario]
    props = list(NAMES) if prop not in (None, "data-race") else None
    r = explore(lambda: build_program(cls, s, 1, cpus), properties=props, stop_on_violation=True)
    return r


def test_every_variant_file_is_classified():
    files = {p.stem for p in HERE.glob("*.py")}
    assert files == set(FOUND) | set(NOT_A_BUG) | set(GAP)


@pytest.mark.parametrize("name", sorted(FOUND))
def test_redteam_variant_is_found(name):
    scenario, cpus, prop = FOUND[name]
    cls = variant(name)
    r = violations(cls, scenario, cpus, prop)
    assert prop in {v.property for v in r.violations}, [v.message for v in r.violations]
    base = next(v for v in VERSIONS.values() if issubclass(cls, v))
    assert base_is_silent(base, scenario, cpus)


@functools.cache
def base_is_silent(base, scenario, cpus):
    """The correct protocol, searched completely on the same program: no violation."""
    clean = violations(base, scenario, cpus)
    return clean.violations == [] and clean.complete


@pytest.mark.parametrize("name", NOT_A_BUG)
def test_redteam_non_bug_passes(name):
    cls = variant(name)
    for scenario in ("read-compact", "compact-worker", "compact-migrate"):
        for cpus in SCENARIOS[scenario].counts:
            r = violations(cls, scenario, cpus)
            assert r.violations == [] and r.complete, (scenario, cpus)


# -- the mechanisms the passing variants exposed ---------------------------------------------
def _pool(version):
    zs = VERSIONS[version]()
    zs.zs_create_pool()
    zs.populate([["x.b", None], [None, "c0.a"], [None, None]])
    zs.pool.free_work.value = zs.pool.free_work.initial = True
    return zs.pool


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_a_fresh_pool_has_no_end_problem(version):
    assert _pool(version).end_problems() == []


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_a_zspage_the_worker_took_but_never_freed_is_a_leak(version):
    # lock_zspage_gives_up: the worker unlinks the empty zspage, then skips it.
    from model.pool import DEFERRED, FREEING, ZS_INUSE_RATIO_0
    pool = _pool(version)
    cls = pool.size_class[0]
    z = cls.fullness_list[ZS_INUSE_RATIO_0].pop(0)
    for where in (DEFERRED, FREEING):
        z.list = where
        [problem] = pool.end_problems()
        assert z.name in problem and "never freed" in problem


@pytest.mark.parametrize("version,count", [("upstream", -1), ("upstream", 1), ("v5", -1), ("v5", 2)])
def test_a_zspage_lock_count_left_behind_is_reported(version, count):
    # zsl_write_unlock_order: a reader's increment lost, the counter ends at -1.
    pool = _pool(version)
    z = pool.size_class[0].ghost_zspages[1]
    z.zl.cnt.value = count
    [problem] = pool.end_problems()
    assert z.name in problem and f"count {count}" in problem


def test_legacy_rwlock_is_left_to_lock_balance():
    # (a)'s zspage lock is an engine rwlock: its holder is followed by lock-balance.
    from model.zspage_lock import zspage_lock_left
    pool = _pool("legacy")
    assert all(zspage_lock_left(z) is None for z in pool.size_class[0].ghost_zspages)


def test_compaction_copies_the_object_header_with_its_bytes():
    # compact_free_before_copy: zs_object_copy copies class->size bytes from the object's
    # start, handle header included; run it on a pool where src's slot was freed first.
    zs = VERSIONS["upstream"]()
    zs.zs_create_pool()
    h = zs.populate([["x.b", None], [None, "c0.a"]])
    cls = zs.pool.size_class[0]
    dst = cls.ghost_zspages[0]
    src_obj = h["c0.a"].word.value
    page, idx = zs.obj_to_location(src_obj)
    page.mem[("hdr", idx)] = ("free", None)
    dst_page = dst.first
    dst_page.mem[("hdr", 1)] = ("alloc", h["c0.a"])
    steps = zs.zs_object_copy(cls, zs.location_to_obj(dst_page, 1), src_obj)
    try:
        while True:
            next(steps)
    except StopIteration:
        pass
    assert dst_page.mem[("hdr", 1)] == ("free", None)
    assert object_value((dst_page.mem[("data", 1)], dst_page.next.mem[("data", 1)])) == "c0.a=init"


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_a_zspage_page_left_unmovable_is_reported(version):
    # migrate_newpage_not_movable: replace_sub_page forgot to mark the page it installed.
    pool = _pool(version)
    z = pool.size_class[0].ghost_zspages[0]
    z.first.next.movable = False
    [problem] = pool.end_problems()
    assert z.first.next.name in problem and "not movable" in problem

