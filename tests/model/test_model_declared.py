"""Declared accesses moved out of their locks: tests/variants/declared/*.py.

A model step declares what memory it touches (``yield zspage.obj.access(write=True)``);
until stop 30 the race detector took two such declarations of one object as ordering the
two tasks, so a patch that moved one out of its lock could not be reported as the data
race KCSAN would report (checker/races.py, docs/design.md "A declared access orders
nothing").  Each file here is such a patch (or a correct twin), its verdict decided from
zsmalloc-protocol.md before zsmc ran; README.md there has the table, before and after.

The patches that only read a class->lock-protected field outside the lock, or store a
transient value, leave every other property silent: the race is their only symptom
(``test_only_the_race_shows_it``).  Those that move a list or counter update out of the
lock also break the pool's consistency at the next lock release, which the pool monitor
already saw; they are here because the race is now the first thing found.
"""

from __future__ import annotations

import functools
import pathlib
import re

import pytest

from checker import explore
from checker.memory import MarkedLabel
from model import Upstream
from model.pool import Page
from model.registry import VERSIONS, make_build
from model.variant_files import load_file
from properties import NAMES as ALL_PROPERTIES

HERE = pathlib.Path(__file__).parent.parent / "variants" / "declared"

# file -> (scenario, cpus, the field the race is on, other properties see it)
FOUND = {
    "compact_skip_class_unlocked": ("compact-wide", 2, "SizeClass.stats", False),
    "v5_async_free_skip_class_unlocked": ("clients-worker", 2, "SizeClass.stats", False),
    "legacy_migrate_skip_empty_unlocked": ("free-migrate", 2, "Zspage.inuse", False),
    "isolate_refuse_empty_unlocked": ("free-migrate", 2, "Zspage.inuse", False),
    "v5_free_stat_after_unlock": ("malloc-free", 2, "SizeClass.stats", False),
    "legacy_malloc_skip_full_class_unlocked": ("malloc-free", 2, "SizeClass.stats", False),
    "migrate_chain_clears_zspage_first": ("migrate-migrate", 2, "Page.zspage", False),
    "free_obj_free_before_class_lock": ("malloc-free", 2, "Zspage.", True),
    "v5_malloc_insert_after_unlock": ("malloc-free", 2, "SizeClass.", True),
    "v5_async_free_splice_unlocked": ("clients-worker", 2, "SizeClass.", True),
    "legacy_compact_putback_after_class_unlock": ("compact-wide", 2, "SizeClass.stats", True),
    "legacy_migrate_chain_after_write_unlock": ("read-migrate", 2, "", True),
    "migrate_chain_after_unlock": ("read-migrate", 2, "", True),
}
# file -> scenarios that run the code it changes (each on 2 and 1 CPUs)
NOT_BUGS = {
    "compact_skip_class_locked": ("compact-wide", "compact-worker"),
    "free_pool_unlock_after_obj_free": ("malloc-free", "free-migrate"),
    "v5_async_free_list_del_locked": ("free-deferred", "clients-worker"),
    "legacy_compact_unlock_pool_first": ("compact-worker", "read-compact"),
}


def test_every_variant_file_is_classified():
    assert {p.stem for p in HERE.glob("*.py")} == set(FOUND) | set(NOT_BUGS)


@functools.cache
def _variant(name):
    path = HERE / f"{name}.py"
    cls = re.findall(r"^class (\w+)", path.read_text(), re.MULTILINE)[-1]
    return getattr(load_file(str(path)), cls)


def _explore(cls, scenario, cpus, properties=None, config=None, stop=True):
    build, _ = make_build(cls, scenario, 1, cpus, config=config)
    return explore(build, properties=properties, stop_on_violation=stop)


def _base(cls):
    return next(v for v in VERSIONS.values() if issubclass(cls, v))


@pytest.mark.parametrize("name", sorted(FOUND))
def test_a_declared_access_out_of_its_lock_is_a_data_race(name):
    scenario, cpus, field, structural = FOUND[name]
    # A structural patch may also trip a BUG_ON (always checked) in some order: every
    # execution is run, and one of them must show the race.
    r = _explore(_variant(name), scenario, cpus, properties=["data-race"], stop=not structural)
    races = [v for v in r.violations if v.property == "data-race"]
    assert races, [(v.property, v.message) for v in r.violations]
    assert f"data race on {field}" in races[0].message, races[0].message
    base = _explore(_base(_variant(name)), scenario, cpus)
    assert base.complete and not base.violations, [v.message for v in base.violations]


@pytest.mark.parametrize("name", sorted(n for n, f in FOUND.items() if not f[3]))
def test_only_the_race_shows_it(name):
    # Every other property passes, and the search is complete: the race is in the
    # footprints (both orders run), so leaving data-race out is no gap.  This is what the
    # check said before the declared accesses stopped ordering each other.
    scenario, cpus, _, _ = FOUND[name]
    others = [p for p in ALL_PROPERTIES if p != "data-race"]
    r = _explore(_variant(name), scenario, cpus, properties=others)
    assert r.complete and not r.violations, (r.reason, [v.message for v in r.violations])


@pytest.mark.parametrize("name", sorted(NOT_BUGS))
def test_a_correct_twin_passes(name):
    for scenario in NOT_BUGS[name]:
        for cpus in (2, 1):
            r = _explore(_variant(name), scenario, cpus)
            assert r.complete and not r.violations, (scenario, cpus, [v.message for v in r.violations])


@pytest.mark.parametrize("version", sorted(VERSIONS))
@pytest.mark.parametrize("scenario", ["migrate-migrate", "malloc-migrate"])
@pytest.mark.parametrize("config", [None, "rt"])
def test_the_versions_have_no_data_race_with_declared_accesses_judged(version, scenario, config):
    # The default set on !RT is the CLI's (tests/test_engine_counts.py); these two hold the
    # same-value chain store and the lockless movable test, on both kernels.
    r = _explore(VERSIONS[version], scenario, 2, properties=["data-race"], config=config)
    assert r.complete and not r.violations, [v.message for v in r.violations]


def test_the_lockless_movable_test_is_a_marked_access():
    # isolate_movable_page's __folio_test_movable reads the bit before the page lock; the
    # kernel made it a page flag read with test_bit (6.17): the field is marked.
    assert type(Page.movable.label) is MarkedLabel
    assert type(Page.zspage.label) is not MarkedLabel


def test_a_chain_rewrite_of_the_same_zspage_is_no_race_but_of_another_value_is():
    r = _explore(Upstream, "migrate-migrate", 2, properties=["data-race"])
    assert r.complete and not r.violations
    r = _explore(_variant("migrate_chain_clears_zspage_first"), "migrate-migrate", 1,
                 properties=["data-race"])
    assert [v.property for v in r.violations] == ["data-race"]
    assert "Page.zspage" in r.violations[0].message


# -- marking (docs/design.md, "Marked and plain accesses") ----------------------------------

def test_the_built_in_model_spells_the_marking_of_every_declared_access():
    # A variant copies a built-in function line by line: each declared access says how the
    # kernel makes it, so that a copied plain read moved out of its lock stays plain.
    root = pathlib.Path(__file__).parent.parent.parent / "model"
    bare = [f"{p.relative_to(root.parent)}:{i}" for p in sorted(root.rglob("*.py"))
            for i, line in enumerate(p.read_text().splitlines(), 1)
            if re.search(r"\.access\((write=True)?\)", line) and "``" not in line]
    assert not bare, bare


def test_the_marked_built_in_access_is_the_lockless_movable_test():
    import inspect

    from model.migrate import Migration
    assert "access(marked=True)" in inspect.getsource(Migration._folio_test_movable)


@pytest.mark.parametrize("name", ["isolate_refuse_empty_unlocked", "compact_skip_class_unlocked"])
def test_a_moved_read_is_found_on_rt_too(name):
    scenario, cpus, field, _ = FOUND[name]
    r = _explore(_variant(name), scenario, cpus, properties=["data-race"], config="rt")
    assert [v.property for v in r.violations] == ["data-race"]
    assert f"data race on {field}" in r.violations[0].message


@pytest.mark.parametrize("name", sorted(NOT_BUGS))
def test_a_correct_twin_has_no_data_race_on_rt(name):
    r = _explore(_variant(name), NOT_BUGS[name][0], 2, properties=["data-race"], config="rt")
    assert r.complete and not r.violations, [v.message for v in r.violations]
