"""Migration aimed at the page frames zs_malloc builds a zspage of (scenario ``malloc-migrate``)
and the migration core's unlocked movable test (zsmalloc-protocol.md §2.1 steps 6-7, §2.5).

mm/migrate.c's ``isolate_movable_page`` tests ``__folio_test_movable`` before it trylocks the
page, because ``SetZsPageMovable`` trylocks the pages of a zspage it is creating and WARNs when
that fails.  The model does the same (``Migration._folio_test_movable``): a declared read of the
page descriptor, racy by design, which the search orders against every declared write of
``movable``.  These tests show that the order is explored both ways (dfs as the oracle), that the
correct versions are silent on the new scenario while a whole class of patches around the movable
bit is found, and that without the unlocked test the correct protocol would WARN.
"""

from __future__ import annotations

import pathlib
import re

import pytest

from checker import Program, Task, explore
from model import Upstream
from model.registry import VERSIONS, make_build
from model.scenarios import SCENARIOS
from model.variant_files import load_file

HERE = pathlib.Path(__file__).parent.parent / "variants"
# Every property but data-integrity: the small programs below malloc without storing.
PROPS = ["no-free-while-mapped", "sleep-in-atomic", "deadlock", "pool-consistency", "lock-balance"]


def variant(path):
    text = (HERE / path).read_text()
    cls = re.search(r"^class (\w+)", text, re.MULTILINE).group(1)
    return getattr(load_file(str(HERE / path)), cls)


def check(cls, scenario, cpus, **kw):
    build, _ = make_build(cls, scenario, 1, cpus)
    return explore(build, **kw)


# -- the scenario -------------------------------------------------------------------------------
def test_malloc_migrate_is_default_on_both_cpu_counts():
    s = SCENARIOS["malloc-migrate"]
    assert s.default and s.counts == (2, 1) and s.frames == 2
    assert s.pool_params()["frames"] == 2
    assert "frames" not in SCENARIOS["malloc-free"].pool_params()     # older params stay valid


@pytest.mark.parametrize("version", sorted(VERSIONS))
@pytest.mark.parametrize("cpus", [2, 1])
def test_the_correct_versions_are_silent_on_malloc_migrate(version, cpus):
    r = check(VERSIONS[version], "malloc-migrate", cpus)
    assert r.complete and not r.violations, (r.reason, [v.message for v in r.violations])
    # The scanner really met the new zspage: the migration core ran to zs_page_migrate.
    assert r.coverage.get("fn:zs_page_migrate"), sorted(r.coverage)


def test_the_scanner_takes_a_frame_only_once_zs_malloc_has_it():
    build, _ = make_build(Upstream, "malloc-migrate", 1, 2)
    program = build()
    pool = program.context
    assert [p.name for p in pool.zone.free] == ["frame0", "frame1"]
    assert all(p.ref.value == 0 and not p.movable and not p.zsmalloc for p in pool.zone.free)


# -- the unlocked test is ordered -----------------------------------------------------------------
def _seen(cls):
    """``cls`` whose unlocked movable test records what it saw (ghost state, for the test)."""
    def _folio_test_movable(self, page):
        movable = yield from cls._folio_test_movable(self, page)
        self.seen.append(movable)
        return movable
    return type(cls.__name__, (cls,), {"_folio_test_movable": _folio_test_movable})


def scanner_against_malloc(cls, cpus, migrate):
    """zs_malloc's slow path against one pass of the migration core over the frame it takes
    first: ``isolate_movable_page``, then ``migrate_pages`` (``migrate``) or
    ``putback_movable_pages`` (the end check counts the page's references)."""
    version = _seen(cls)

    def build():
        boot = version(tag="")
        pool, _ = SCENARIOS["malloc-migrate"].make_pool(boot, cpus)
        frame0 = pool.zone.free[0]
        client = version(pool, 0, "client0.")
        scanner = version(pool, 1 % cpus, "migration.")
        scanner.seen = []

        def malloc():
            yield from client.zs_malloc(3, "client0.h1")

        def scan():
            if (yield from scanner.isolate_movable_page(frame0)):
                if migrate:
                    yield from scanner.migrate_pages(frame0)
                else:       # the core gives up: the page goes back with its reference
                    yield from scanner.putback_movable_pages(frame0)

        def observe():
            movable = tuple(p.movable for z in pool.size_class[0].ghost_zspages for p in z.pages())
            return tuple(scanner.seen), pool.snapshot(), movable

        return Program([Task(malloc, "client0", 0), Task(scan, "migration", 1 % cpus)],
                       cpus=cpus, observe=observe, context=pool)
    return build


# dfs is the oracle on one CPU (61 executions); on two it is 92,293 executions since red team
# round 8's PG_isolated steps (two minutes, a tenth of the suite: no preemption bound cuts it,
# as the tasks run in parallel), so there dpor's outcomes are held to the three the test can see.
@pytest.mark.parametrize("cpus,migrate", [(1, True), (1, False), (2, True), (2, False)])
def test_dpor_explores_the_unlocked_test_both_ways_as_dfs_does(cpus, migrate):
    build = scanner_against_malloc(Upstream, cpus, migrate)
    dpor = explore(build, scheduler="dpor", properties=PROPS)
    assert dpor.complete and not dpor.violations and dpor.redundant == 0
    # The frame still free (no test), not yet movable, movable.
    assert {o[0] for o in dpor.outcomes} == {(), (False,), (True,)}
    if cpus == 1:
        dfs = explore(build, scheduler="dfs", properties=PROPS)
        assert dfs.complete and not dfs.violations
        assert dpor.outcomes == dfs.outcomes and dpor.executions < dfs.executions


def test_the_unlocked_test_is_a_declared_read_not_a_data_race():
    # Declared on both sides: no race reported, and no "incomplete" either.
    r = explore(scanner_against_malloc(Upstream, 2, True), properties=PROPS)
    assert r.complete and not r.reason and not r.violations


def test_the_redteam_variant_is_found_by_dfs_and_dpor_on_the_small_program():
    cls = variant("redteam/malloc_movable_after_unlock.py")
    build = scanner_against_malloc(cls, 1, True)
    # dfs within two preemptions (90 executions; dpor's four have at most two): dfs
    # in its own order reaches it after 26,083 executions, minutes on a loaded machine.  That
    # the two searches reach the same outcomes on this program is the test above's.
    dfs = explore(build, scheduler="dfs", properties=PROPS, preemption_bound=2)
    dpor = explore(build, scheduler="dpor", properties=PROPS)
    assert dpor.max_preemptions <= 2 and dfs.executions == 90
    for r in (dfs, dpor):
        assert {v.property for v in r.violations} == {"pool-consistency"}
        assert any("frame1" in v.message and "not movable" in v.message for v in r.violations)


class LockedTestOnly(Upstream):
    """The model before: ``isolate_movable_page`` trylocked first and tested movable under
    the lock.  The kernel does not, for the reason below."""

    def isolate_movable_page(self, page):
        if not (yield from self.get_page_unless_zero(page)):
            return False
        if (yield from self.zpdesc_trylock(page)):
            if page.movable and not page.isolated and (yield from self.zs_page_isolate(page)):
                page.isolated = True
                yield from self.zpdesc_unlock(page)
                return True
            yield from self.zpdesc_unlock(page)
        yield from self.zpdesc_put(page)
        return False


@pytest.mark.parametrize("cpus", [2, 1])
def test_without_the_unlocked_test_the_correct_protocol_warns(cpus):
    # The scanner's trylock of a frame zs_malloc has not marked yet makes SetZsPageMovable's
    # trylock fail: a false WARN, which the kernel's early __folio_test_movable avoids.
    r = check(LockedTestOnly, "malloc-migrate", cpus, stop_on_violation=True)
    assert [v.property for v in r.violations] == ["bug"]
    assert "SetZsPageMovable: WARN_ON(!zpdesc_trylock(frame" in r.violations[0].message


# -- the class of bugs around the movable bit --------------------------------------------------
# variant file -> (scenario, cpus, property)
FOUND = {
    # The walk of the chain SetZsPageMovable makes unlocked races with the migration that
    # replaces the page it made movable: a data race before the inconsistency it leads to.
    "redteam/malloc_movable_after_unlock.py": ("malloc-migrate", 1, "data-race"),
    "movable/movable_before_chain.py": ("malloc-migrate", 1, "bug"),
    "movable/set_movable_skips_last_page.py": ("malloc-migrate", 1, "pool-consistency"),
    "movable/free_clear_movable_after_unlock.py": ("compact-migrate", 2, "data-race"),
}


def test_every_movable_variant_file_is_listed():
    assert {f"movable/{p.name}" for p in (HERE / "movable").glob("*.py")} <= set(FOUND)


@pytest.mark.parametrize("path", sorted(FOUND))
def test_a_movable_bug_is_found_and_the_base_is_silent(path):
    scenario, cpus, prop = FOUND[path]
    cls = variant(path)
    found = check(cls, scenario, cpus, stop_on_violation=True)
    assert prop in {v.property for v in found.violations}, [v.message for v in found.violations]
    clean = check(Upstream, scenario, cpus)
    assert clean.complete and not clean.violations


@pytest.mark.parametrize("path", ["redteam/malloc_movable_after_unlock.py",
                                  "movable/movable_before_chain.py"])
def test_a_malloc_side_bug_needs_the_new_scenario(path):
    # Nothing else aims migration at a zspage being built: malloc-free runs the same
    # slow path with no scanner, and passes.
    for cpus in (2, 1):
        r = check(variant(path), "malloc-free", cpus)
        assert r.complete and not r.violations, cpus
