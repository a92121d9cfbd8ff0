"""Allocation failure (model/failure.py, tests/variants/alloc_failure/*.py).

zs_malloc's -ENOMEM paths (no handle; no struct zspage; no page of the chain, the pages
already taken untyped and freed; the handle freed) and the migration core's (no new page:
the page is put back) run in the alloc-failure scenarios (``malloc-nomem``,
``malloc-nomem-migrate``, ``migrate-nomem``: review scenarios, run by a patch's check).
A failure is a choice only where the variant's code tests the result it would get
(:func:`model.failure.enabled_sites`), so a variant written before failures were modelled
is never made to fail where it cannot, and the default set explores what it always did.
"""

from __future__ import annotations

import functools
import inspect
import json
import pathlib
import re
import textwrap

import pytest

from checker import explore
from model import Upstream, failure
from model.coverage import lines_never_ran
from model.registry import SCENARIOS, VERSIONS, make_build
from model.variant_files import load_file

HERE = pathlib.Path(__file__).parent.parent / "variants" / "alloc_failure"
FAILURE_SCENARIOS = ("malloc-nomem", "malloc-nomem-migrate", "migrate-nomem")

# file -> (scenario, cpus, property the first violation has, words of its message)
FOUND = {
    "alloc_zspage_leaks_pages": ("malloc-nomem", 1, "pool-consistency", "leaked, never freed"),
    "v5_alloc_zspage_frees_typed_pages": ("malloc-nomem", 1, "bug", "Bad page state"),
    "legacy_alloc_zspage_leaks_struct": ("malloc-nomem", 1, "pool-consistency", "struct zspage"),
    "legacy_alloc_zspage_off_by_one": ("malloc-nomem", 2, "pool-consistency", "leaked, never freed"),
    "malloc_nomem_holds_class_lock": ("malloc-nomem", 1, "lock-balance", "class[0]->lock"),
    "v5_malloc_nomem_returns_freed_handle": ("malloc-nomem", 2, "no-free-while-mapped", "use after free"),
    "legacy_malloc_nomem_returns_zero": ("malloc-nomem", 1, "bug", "neither a handle nor an error"),
    "migrate_nomem_no_putback": ("migrate-nomem", 2, "pool-consistency", "refcount 2"),
}
# file -> the failure scenarios that run what it changes
NOT_BUGS = {
    "alloc_zspage_free_pages_forward": ("malloc-nomem",),
    "legacy_alloc_zspage_struct_last": ("malloc-nomem", "malloc-nomem-migrate"),
    "v5_migrate_nomem_after_refcount": ("migrate-nomem",),
}


def test_every_variant_file_is_classified():
    assert {p.stem for p in HERE.glob("*.py")} == set(FOUND) | set(NOT_BUGS)


@functools.cache
def _variant(name, folder=HERE):
    path = folder / f"{name}.py"
    cls = re.findall(r"^class (\w+)", path.read_text(), re.MULTILINE)[-1]
    return getattr(load_file(str(path)), cls)


def _explore(cls, scenario, cpus, config=None, stop=True):
    build, _ = make_build(cls, scenario, 1, cpus, config=config)
    return explore(build, stop_on_violation=stop)


@pytest.mark.parametrize("name", sorted(FOUND))
def test_a_failure_path_bug_is_found(name):
    scenario, cpus, prop, words = FOUND[name]
    # The version it patches passes the same scenario: test_the_built_in_versions_pass_...
    r = _explore(_variant(name), scenario, cpus)
    assert r.violations and r.violations[0].property == prop and words in r.violations[0].message, \
        [(v.property, v.message) for v in r.violations]


@pytest.mark.parametrize("name", sorted(NOT_BUGS))
def test_a_correct_failure_path_passes_and_runs(name):
    cls = _variant(name)
    cov = {}
    for scenario in NOT_BUGS[name]:
        for cpus in (1, 2):
            r = _explore(cls, scenario, cpus, stop=False)
            assert r.complete and not r.violations, (scenario, cpus, [v.message for v in r.violations])
            for k, n in r.coverage.items():
                cov[k] = cov.get(k, 0) + n
    assert lines_never_ran(cls, cov) == []


@pytest.mark.parametrize("config", ["rt"])
@pytest.mark.parametrize("version", sorted(VERSIONS))
@pytest.mark.parametrize("scenario", FAILURE_SCENARIOS)
def test_the_built_in_versions_pass_the_failure_scenarios(version, scenario, config):
    # The default configuration's runs, with every property, are
    # tests/model/test_model_coverage.py::test_the_alloc_failure_scenarios_run_every_failure_path.
    for cpus in SCENARIOS[scenario].counts:
        r = _explore(VERSIONS[version], scenario, cpus, config=config, stop=False)
        assert r.complete and not r.violations, [v.message for v in r.violations]


def test_the_failure_scenarios_are_review_scenarios_not_default():
    # A patch's check runs them (at depth 1); the default set is what it was.
    for name, scen in SCENARIOS.items():
        assert bool(scen.alloc_failure) == (name in FAILURE_SCENARIOS)
    for name in FAILURE_SCENARIOS:
        assert SCENARIOS[name].review and not SCENARIOS[name].default
        assert set(SCENARIOS[name].alloc_failure) <= set(failure.SITES)


def test_a_default_scenario_makes_no_allocation_fail():
    for name, scen in SCENARIOS.items():
        if scen.default:
            build, params = make_build(Upstream, name, 1, scen.counts[0])
            assert build().context.may_fail == frozenset() and "may_fail" not in params


def test_the_built_in_versions_take_every_failure():
    for version in VERSIONS.values():
        assert failure.enabled_sites(version, failure.SITES) == frozenset(failure.SITES)
        assert not any(failure.untested_calls(version, s) for s in failure.SITES)


# -- a variant written before allocations could fail -----------------------------------------
_OLD_ALLOC = '''
from checker import label, might_sleep
from model import Upstream
from model.pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE


class OldStyle(Upstream):
    """zs_malloc, alloc_zspage and migrate_pages as the model had them (no failure path)."""

    def zs_malloc(self, size, key):
        handle = yield from self.cache_alloc_handle(key)
        cls = self.pool.class_for(size)
        yield cls.lock.acquire()
        yield label("zs_malloc")
        zspage = yield from self.find_get_zspage(cls)
        if zspage is not None:
            yield from self.obj_malloc(zspage, handle)
            yield from self.fix_fullness_group(cls, zspage)
            yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
            yield cls.lock.release()
            return handle
        yield cls.lock.release()
        zspage = yield from self.alloc_zspage(cls)
        yield cls.lock.acquire()
        yield from self.obj_malloc(zspage, handle)
        newfg = self.get_fullness_group(cls, zspage)
        yield from self.insert_zspage(cls, zspage, newfg)
        self.pool.pages_allocated += cls.pages_per_zspage
        yield from self.class_stat_add(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
        cls.ghost_zspages.append(zspage)
        yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
        yield from self.SetZsPageMovable(zspage)
        yield cls.lock.release()
        return handle

    def alloc_zspage(self, cls):
        yield might_sleep()
        pages = None
        zone = self.pool.zone
        if zone is not None:
            pages = []
            for _ in range(cls.pages_per_zspage):
                pages.append((yield from self.alloc_zpdesc(zone)))
        return self.new_zspage(cls, pages)

    def migrate_pages(self, page, mode="sync"):
        # a core that always gives up after taking the new page: no migration, no bug
        newpage = self.alloc_migration_target()
        if not (yield from self.zpdesc_trylock(newpage)):
            return None
        yield from self.zpdesc_unlock(newpage)
        yield from self.zpdesc_put(newpage)
        yield from self.putback_movable_pages(page)
        return None
'''


@pytest.fixture(scope="module")
def old_style(tmp_path_factory):
    path = tmp_path_factory.mktemp("old") / "old_style.py"
    path.write_text(textwrap.dedent(_OLD_ALLOC))
    return load_file(str(path)).OldStyle


def test_code_that_does_not_test_a_result_is_never_made_to_fail(old_style):
    # Its zs_malloc uses cache_alloc_handle's and alloc_zspage's results untested (it
    # tests `zspage` only before alloc_zspage assigns it), its migrate_pages never calls
    # get_new_folio (and only passes the page it made to a call): no site it reaches is
    # enabled, and the failure scenarios pass it, as the model did.
    assert failure.enabled_sites(old_style, failure.SITES) == {"newpage"}
    assert dict(failure.untested_calls(old_style, "handle")) == {"zs_malloc": "cache_alloc_handle"}
    assert dict(failure.untested_calls(old_style, "zpdesc")) == {"alloc_zspage": "alloc_zpdesc",
                                                                 "zs_malloc": "alloc_zspage"}
    for scenario in FAILURE_SCENARIOS:
        for cpus in (1, 2):
            r = _explore(old_style, scenario, cpus, stop=False)
            assert r.complete and not r.violations, (scenario, [v.message for v in r.violations])
    note = failure.failure_note(old_style, [SCENARIOS["malloc-nomem"]])
    assert note.startswith("note: allocation failure not injected at handle (zs_malloc does not "
                           "test what cache_alloc_handle returns)")
    assert failure.failure_note(Upstream, [SCENARIOS[n] for n in FAILURE_SCENARIOS]) is None


def _f(src, folder):
    path = folder / "f.py"
    path.write_text(src)
    return load_file(str(path)).f


@pytest.mark.parametrize("src", [
    "def f(self):\n    x = yield from self.alloc()\n    if x is None:\n        return -1\n",
    "def f(self):\n    x = self.alloc()\n    if not x:\n        return -1\n",
    "def f(self):\n    x = yield from self.alloc()\n    while x is None or self.other():\n        pass\n",
    "def f(self):\n    x = yield from self.alloc()\n    return 0 if IS_ERR_VALUE(x) else 1\n",
])
def test_a_tested_result_counts_as_a_failure_path(src, tmp_path):
    assert failure._untested(_f(src, tmp_path), ("alloc",)) == ()


@pytest.mark.parametrize("src", [
    "def f(self):\n    x = yield from self.alloc()\n    if self.trylock(x):\n        return -1\n",
    "def f(self):\n    xs = [(yield from self.alloc())]\n    if xs:\n        return -1\n",
    "def f(self):\n    x = yield from self.alloc()\n    y = x\n    if y is None:\n        return -1\n",
    "def f(self):\n    yield from self.alloc()\n",
])
def test_a_result_used_untested_is_no_failure_path(src, tmp_path):
    assert failure._untested(_f(src, tmp_path), ("alloc",)) == ("alloc",)


# -- the check of a patch ----------------------------------------------------------------------
def run(*args):
    """``zsmc ARGS`` in this process (tests/clirun.py is not importable from tests/model)."""
    from click.testing import CliRunner

    import cli
    try:
        runner = CliRunner(mix_stderr=False)  # click 8.1
    except TypeError:
        runner = CliRunner()
    return runner.invoke(cli.main, [str(a) for a in args], catch_exceptions=False)


def test_a_changed_failure_path_is_judged_not_left_unrun(tmp_path):
    # The default scenarios never fail an allocation: the patch's changed cleanup does not
    # run there (exit 5, not a pass); the failure scenario runs it and judges it.
    spec = f"{HERE / 'alloc_zspage_free_pages_forward.py'}:AllocZspageFreePagesForward"
    unrun = run("check", "--variant", spec, "--scenario", "malloc-free", "-q", "--out", tmp_path)
    assert unrun.exit_code == 5 and "alloc_zspage" in unrun.stdout
    res = run("check", "--variant", spec, "--scenario", "malloc-nomem", "-q", "--out", tmp_path)
    assert res.exit_code == 0, res.stdout
    bug = f"{HERE / 'alloc_zspage_leaks_pages.py'}:AllocZspageLeaksPages"
    found = run("check", "--variant", bug, "--scenario", "malloc-nomem", "--cpus", "1", "-q",
                "--out", tmp_path / "bug", "--format", "json")
    assert found.exit_code == 1
    report = json.loads(found.stdout)
    [scen] = report["scenarios"]
    assert scen["violations"]
    [trace] = (tmp_path / "bug").glob("*.json")
    params = json.loads(trace.read_text())["program"]["params"]
    assert params["may_fail"] == ["handle", "zpdesc", "zspage"]
    again = run("replay", trace, "--variant", bug)
    assert again.exit_code == 1 and "reproduced: [pool-consistency]" in again.stdout


def test_the_redteam_enomem_leak_is_found_now():
    # Red team round 5's malloc_enomem_leaks_handle was NOT A PASS (exit 5): its zs_malloc
    # tests alloc_zspage's result, so a zspage failure reaches it and the leak shows.
    cls = _variant("malloc_enomem_leaks_handle", HERE.parent / "redteam5_life")
    assert failure.enabled_sites(cls, failure.SITES) == {"zspage", "zpdesc", "newpage"}
    r = _explore(cls, "malloc-nomem", 1)
    assert any("never returned to its kmem_cache (cache_free_handle)" in v.message
               and "the zs_malloc that made it failed" in v.message for v in r.violations)


def test_pages_taken_on_a_failed_path_are_followed(old_style):
    # The page-leak check follows a page from alloc_zpdesc on, not from the zspage's chain.
    build, _ = make_build(Upstream, "malloc-nomem", 1, 1)
    prog = build()
    pool = prog.context
    zs = Upstream(pool, 0, "t.")
    gen = zs.alloc_zpdesc(None, "t.page")
    try:
        while True:
            gen.send(None)
    except StopIteration as stop:
        page = stop.value
    assert page in pool.ghost_pages and page.zsmalloc
    assert any("t.page belongs to no zspage but keeps 1 reference" in p
               for p in pool.end_problems())
    assert inspect.isgeneratorfunction(Upstream.should_fail)


def test_the_state_machine_is_not_asked_to_fail_an_allocation(tmp_path):
    # --scheduler hypothesis takes a scenario's pool, not its failures: refused in one line.
    res = run("check", "--scheduler", "hypothesis", "--scenario", "malloc-nomem", "--out", tmp_path)
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        ("zsmc: error: --scheduler hypothesis runs the state machine, whose allocations never "
         "fail; scenario malloc-nomem makes them fail: use dpor, dfs, random or pct")]


def test_a_check_says_which_allocation_it_could_not_fail(tmp_path, old_style):
    path = tmp_path / "old_style.py"
    path.write_text(textwrap.dedent(_OLD_ALLOC))
    res = run("check", "--variant", f"{path}:OldStyle", "--scenario", "malloc-nomem", "--cpus", "1",
              "-q", "--out", tmp_path / "out")
    # exit 5: its zone branch and its migrate_pages do not run here, as before (malloc-nomem
    # alone: migrate-nomem added minutes and nothing to the note's allocations)
    assert res.exit_code == 5 and "result: NOT A PASS" in res.stdout, res.stdout
    assert ("note: allocation failure not injected at handle (zs_malloc does not test what "
            "cache_alloc_handle returns); zspage (zs_malloc does not test what alloc_zspage "
            "returns); zpdesc (") in res.stdout


class _OldZpdescOverride(Upstream):
    """alloc_zpdesc as a variant wrote it before fresh pages came from it: a zone only."""

    def alloc_zpdesc(self, zone):
        page = yield from super().alloc_zpdesc(zone)
        return page


@pytest.mark.parametrize("scenario", ["malloc-free", "malloc-migrate"])
def test_a_variants_alloc_zpdesc_without_a_name_keeps_working(scenario):
    """Fresh pages (no zone) are the model's own, as before; a zone's frames go through the
    override (tests/variants/movable, written so, died with a TypeError at the merge)."""
    for cpus in SCENARIOS[scenario].counts:
        r = _explore(_OldZpdescOverride, scenario, cpus)
        assert r.complete and not r.violations, [v.message for v in r.violations]
