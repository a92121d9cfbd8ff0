"""Red team round 5, lifetimes and state machines of pages, zspages and handles
(tests/variants/redteam5_life/*.py, README.md there): kernel patches written from
zsmalloc-protocol.md, each classified before zsmc ran.  What the round exposed, each with
its mechanism (the README has the table):

* free_early_return_leaks_handle, free_zspage_struct_freed_by_caller: a handle or a struct
  zspage never returned to its kmem_cache passed -- the end checks followed page references
  only.  Every slab object made for the pool is now checked (model/invariants.py
  ``slab_problems``).
* core_putback_skips_movable_recheck: the migration core calling zs_page_putback on a page
  whose zspage was freed after isolation passed -- the model calls the callback directly,
  where the kernel goes through folio_movable_ops(), NULL by then (model/migrate.py
  ``movable_ops``).
* async_free_stat_at_splice: a false alarm -- the 0% counter had to count the zspages the
  free worker holds; decrementing at the splice is bug 12's invariant to the letter.
* legacy_isolated_counter: NOT A PASS (exit 5) -- a new BUG_ON's condition had to go both
  ways (model/line_coverage.py).
* free_zspage_pages_count_early: refused (exit 2) -- a helper the patch calls, named like a
  kernel function, was taken for a misspelt override (model/registry.py).
* legacy_migrate_trylock_keeps_early_tag: found, but its trace did not replay and was not
  minimised -- a violation raised inside a put was recorded at the step before
  (checker/world.py; tests/test_engine_free_check.py).
* legacy_isolated_counter_putback_half_backport: passed -- at depth 1 no scenario had one
  page of a zspage put back while another is isolated (migrate-migrate at depth 2 has).  The
  review scenario migrate-neighbours (three migrations, one CPU) has it at depth 1.
* malloc_enomem_leaks_handle: NOT A PASS (exit 5), rightly -- no scenario made an allocation
  fail, so zs_malloc's -ENOMEM paths never ran.  Allocations now fail in the alloc-failure
  review scenarios (model/failure.py, tests/model/test_model_alloc_failure.py): found.
"""

from __future__ import annotations

import functools
import pathlib
import re

import pytest

from checker import explore
from model.registry import VERSIONS, make_build
from model.variant_files import load_file
from properties import NAMES

HERE = pathlib.Path(__file__).parent.parent / "variants" / "redteam5_life"

# file -> (scenario, cpus, property the violation must include)
FOUND = {
    "free_early_return_leaks_handle": ("clients", 1, "pool-consistency"),
    "free_zspage_struct_freed_by_caller": ("free-deferred", 1, "pool-consistency"),
    "core_putback_skips_movable_recheck": ("free-deferred", 1, "bug"),
    "legacy_migrate_trylock_keeps_early_tag": ("read-migrate", 2, "bug"),
    "malloc_record_obj_after_unlock": ("malloc-migrate", 1, "pool-consistency"),
    "migrate_skip_empty_after_trylock": ("read-migrate", 1, "sleep-in-atomic"),
    "compact_trylock_fail_drops_src": ("up-read-compact", 1, "pool-consistency"),
    "free_zspage_pages_count_early": ("free-migrate", 1, "pool-consistency"),
    "reset_zpdesc_keeps_movable": ("up-read-compact", 1, "bug"),
    "legacy_isolated_counter_putback_half_backport": ("migrate-neighbours", 1, "data-race"),
    "malloc_enomem_leaks_handle": ("malloc-nomem", 1, "pool-consistency"),
}
# file -> scenarios that run the code it changes (both CPU counts)
NOT_BUGS = {
    "migrate_put_old_before_reset": ("up-read-migrate", "migrate-full"),
    "migrate_fail_eagain": ("up-read-migrate", "read-migrate"),
    "migrate_skip_empty_zspage": ("free-deferred", "read-migrate"),
    "legacy_migrate_trylock_tag_after": ("read-migrate", "free-deferred"),
    "legacy_isolated_counter": ("migrate-migrate", "free-deferred"),
    "v5_compact_trylock_fail_putback_inline": ("up-read-compact", "read-compact"),
    "isolate_refuses_empty_zspage": ("free-deferred", "read-migrate"),
    "v5_migrate_reset_in_write_section": ("up-read-migrate", "migrate-full"),
    "async_free_stat_at_splice": ("free-deferred", "two-classes"),
}
# file -> the kernel function whose changed branch no default scenario runs (the review
# scenario of FOUND does)
NOT_RUN_BY_DEFAULT = {"malloc_enomem_leaks_handle": "zs_malloc"}


def test_every_variant_file_is_classified():
    names = {p.stem for p in HERE.glob("*.py")}
    assert names == set(FOUND) | set(NOT_BUGS)


@functools.cache
def _variant(name):
    path = HERE / f"{name}.py"
    cls = re.findall(r"^class (\w+)", path.read_text(), re.MULTILINE)[-1]
    return getattr(load_file(str(path)), cls)


def _explore(cls, scenario, cpus, depth=1, properties=None):
    build, _ = make_build(cls, scenario, depth, cpus)
    return explore(build, properties=properties, stop_on_violation=True)


# Not bugs in effect, but data races since stop 30 (a declared access orders nothing): the
# unlocked read of zspage->inuse races with obj_free's locked write, as KCSAN would say
# (tests/variants/declared/isolate_refuse_empty_unlocked.py is the same patch).
BENIGN_RACES = {"isolate_refuses_empty_zspage"}


def _base(cls):
    return next(v for v in VERSIONS.values() if issubclass(cls, v))


@pytest.mark.parametrize("name", sorted(FOUND))
def test_redteam5_life_bug_is_found(name):
    scenario, cpus, prop = FOUND[name]
    # data-race aside unless it is the finding (test_model_redteam.violations says why)
    r = _explore(_variant(name), scenario, cpus, properties=None if prop == "data-race" else list(NAMES))
    assert any(v.property == prop for v in r.violations), [v.message for v in r.violations]
    base = _explore(_base(_variant(name)), scenario, cpus)
    assert base.complete and not base.violations


@pytest.mark.parametrize("name", sorted(NOT_BUGS))
def test_redteam5_life_non_bug_passes(name):
    props = list(NAMES) if name in BENIGN_RACES else None
    for scenario in NOT_BUGS[name]:
        for cpus in (1, 2):
            r = _explore(_variant(name), scenario, cpus, properties=props)
            assert r.complete and not r.violations, (scenario, cpus, [v.message for v in r.violations])


@pytest.mark.parametrize("name", sorted(BENIGN_RACES))
def test_a_benign_unlocked_read_is_a_data_race(name):
    r = _explore(_variant(name), "free-migrate", 2, properties=["data-race"])
    assert [v.property for v in r.violations] == ["data-race"]
    assert "Zspage.inuse" in r.violations[0].message


def test_half_backported_isolated_counter_needs_the_review_scenario_or_depth_2():
    cls = _variant("legacy_isolated_counter_putback_half_backport")
    assert not any(_explore(cls, "migrate-migrate", cpus).violations for cpus in (1, 2))
    r = _explore(cls, "migrate-migrate", 1, depth=2)
    assert any(v.property == "data-race" and "isolation" in v.message for v in r.violations), \
        [v.message for v in r.violations]
    from model.registry import SCENARIOS
    assert SCENARIOS["migrate-neighbours"].review and not SCENARIOS["migrate-neighbours"].default


@pytest.mark.parametrize("name", sorted(NOT_RUN_BY_DEFAULT))
def test_redteam5_life_change_unrun_by_default_is_not_a_pass_there(name):
    from model.coverage import lines_never_ran
    cls = _variant(name)
    r = _explore(cls, "malloc-free", 1)
    assert r.complete and not r.violations
    assert [fn for fn, _ in lines_never_ran(cls, r.coverage)] == [NOT_RUN_BY_DEFAULT[name]]
