"""Every kernel function runs, every pair of operations runs together, and a patch's
unrun code is never called a pass (issue 11 part 2).

The assertions read the engine's own record (``Result.coverage``, filled by
:func:`checker.traced` on the kernel functions), not a hand-kept list.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import json

import pytest
from click.testing import CliRunner

import cli
from checker import ModelError, UsageError, explore
from model import line_coverage
from model.coverage import (
    ALL_FAMILIES,
    every_line,
    kernel_functions,
    never_ran,
    overridden,
    pairs,
    ran,
    same_pairs,
)
from model.registry import SCENARIOS, load_variant, make_build
from model.versions import VERSIONS, Upstream

# Two tasks of one family at once: the free work item never runs twice at a time.
WANTED_PAIRS = {tuple(sorted(p)) for p in itertools.combinations_with_replacement(ALL_FAMILIES, 2)} \
    - {("worker", "worker")}
# ...and every pair that can meet on one zspage (or on the 0% list the worker takes it from)
# meets there (red team round 7): a zs_malloc reusing a zspage whose page migration moves
# (malloc-reuse-migrate), or the empty zspage the worker is freeing (malloc-reuse-worker).
# Not wanted: an object access with the worker (the worker only takes empty zspages), and two
# compactions (compaction_in_progress: one returns before it touches a zspage).
WANTED_SAME = WANTED_PAIRS - {("access", "worker"), ("compaction", "compaction")}


@functools.cache
def default_coverage(version):
    """Per CPU count, the union of what the default scenarios ran at depth 1, every
    statement of the model recorded (:func:`model.coverage.every_line`)."""
    out = {}
    for name, scen in SCENARIOS.items():
        if not scen.default:
            continue
        for cpus in scen.counts:
            build, _ = make_build(every_line(version), name, 1, cpus)
            r = explore(build, properties=[])
            assert r.complete
            got = out.setdefault(cpus, {})
            for k, n in r.coverage.items():
                got[k] = got.get(k, 0) + n
    return out


@pytest.mark.parametrize("name", sorted(VERSIONS))
def test_the_default_scenarios_run_every_kernel_function_and_every_pair(name):
    version = VERSIONS[name]
    cov = default_coverage(version)
    assert set(cov) == {1, 2}
    everything = {}
    for c in cov.values():
        everything.update(c)
    missing = [f for f in kernel_functions(version) if f not in ran(everything)]
    assert set(missing) == FAILURE_ONLY, f"{name}: no default scenario runs {missing}"
    for cpus, c in cov.items():
        assert WANTED_PAIRS <= pairs(c), f"{name} on {cpus} CPU(s) lacks {sorted(WANTED_PAIRS - pairs(c))}"


@pytest.mark.parametrize("name", sorted(VERSIONS))
def test_the_default_scenarios_run_every_pair_on_one_zspage(name):
    for cpus, c in default_coverage(VERSIONS[name]).items():
        got = same_pairs(c)
        assert WANTED_SAME <= got, f"{name} on {cpus} CPU(s) never runs {sorted(WANTED_SAME - got)} on one zspage"
        assert got <= pairs(c)


# The model's statements no default scenario runs at depth 1, each for a reason.
# (`compact-wide`, with four objects per zspage, closed the rest of the default
# geometry's gap: a source's later pages, a destination left partly free, an
# allocation past a zspage's first page.)
_GEOMETRY = {
    # every fullness change is a change of group while a zspage holds at most
    # four objects (the groups are tenths)
    "fix_fullness_group": ["return newfg"],
    # a source with objects left but no page left: unreachable while its
    # inuse count is right (the src.inuse == 0 test stops first)
    "migrate_zspage": ["break"],
    # a zspage on the deferred list, or already unlinked, when it is removed
    "remove_zspage": ["lst = self.pool.deferred", "lst = ()        # already unlinked: list_del_init "
                      "of a self-linked entry is a no-op"],
}
# The failure paths of allocation (model/failure.py): only the alloc-failure scenarios
# (review scenarios, not default) make an allocation fail.  What they run is asserted below.
_ALLOC_FAILURE = {
    "zs_malloc": ["return -ENOMEM", "return -ENOMEM", "yield from self.cache_free_handle(handle)"],
    "should_fail": ['return (yield choose(FAULT_CHOICE)) == "fail"'],
    "cache_alloc_handle": ["return None", "self.pool.ghost_slabs.append(handle)"],
    "alloc_zspage": ["page = zpdescs.pop()", "return None", "return None",
                     "while zpdescs:              # while (--i >= 0)",
                     "yield from self._zpdesc_clear_zsmalloc(page)",
                     "yield from self.cache_free_zspage(zspage)", "yield from self.free_zpdesc(page)"],
    "cache_alloc_zspage": ["return None"],
    "alloc_zpdesc": ["return None"],
    "_zpdesc_clear_zsmalloc": ["page.zsmalloc = False", "yield page.desc.access(write=True, marked=False)"],
    "free_zpdesc": ["yield from self.zpdesc_put(page)"],
    "get_new_folio": ["return None"],
    "migrate_pages": ["return None", "yield from self.putback_movable_pages(page)"],
}
ALLOC_FAILURE_SCENARIOS = [n for n, s in SCENARIOS.items() if s.alloc_failure]
# kernel functions only a failed allocation calls
FAILURE_ONLY = {"_zpdesc_clear_zsmalloc", "free_zpdesc"}
# a plain builder kept for variants whose alloc_zspage predates failures (they pass it frames)
_COMPAT = {"new_zspage": ["page = frames[i]        # alloc_zpdesc set its type and follows it"],
           # a variant's alloc_zpdesc(self, zone), which takes no fresh page's name
           "alloc_zspage": ["zpdesc = yield from Allocation.alloc_zpdesc(self, None, *name)"]}


def _merge(*parts):
    out = {}
    for part in parts:
        for fn, lines in part.items():
            out[fn] = out.get(fn, []) + lines
    return out


_GAP = {
    "upstream": {**_GEOMETRY,
                 # built only for a version with the map API
                 "zs_create_pool": ['areas = tuple(MapArea(cpu, Var(f"zs_map_area[{cpu}].vm_mm", 0),']},
    # (v5's in-page object read through the obj API runs in `compact-partial`.)
    "v5": {**_GEOMETRY},
    "legacy": {**_GEOMETRY,
               # a source with objects left after the move (wider zspages)
               "_zs_compact": ["yield from self.putback_zspage(cls, src)"],
               # migration failing after the new page was allocated: the model's never fails
               "migrate_pages": ["yield from self.zpdesc_put(newpage)",
                                 "yield from self.putback_movable_pages(page)", "return None"]},
}
UNRUN = {name: _merge(gap, _ALLOC_FAILURE, _COMPAT) for name, gap in _GAP.items()}


@pytest.mark.parametrize("name", sorted(VERSIONS))
def test_the_default_scenarios_leave_only_the_known_statements_unrun(name):
    # Statement by statement: a path of the model the default set never takes
    # is a path a patch can break without a check noticing (a changed line is
    # reported, an unchanged one that the change affects is not). The list
    # above is the whole gap; a new one fails here, a closed one too.
    version = VERSIONS[name]
    cls = every_line(version)
    everything = {}
    for c in default_coverage(version).values():
        everything.update(c)
    unrun = {}
    for fn, lines in cls.__zsmc_every_line__.items():
        missing = sorted(set(lines) - line_coverage.ran_lines(everything, fn))
        if missing:
            src = inspect.getattr_static(version, fn)
            unrun[fn] = [line_coverage.source_line(src, n) for n in missing]
    assert {fn: sorted(t) for fn, t in unrun.items()} == {fn: sorted(t) for fn, t in UNRUN[name].items()}
    total = sum(len(v) for v in cls.__zsmc_every_line__.values())
    assert total > 500 and sum(len(v) for v in unrun.values()) < total * 0.05


@pytest.mark.parametrize("name", sorted(VERSIONS))
def test_the_alloc_failure_scenarios_run_every_failure_path(name):
    # The default set leaves the failure paths to them (_ALLOC_FAILURE above): together
    # they leave only the gap that has its own reasons, and every kernel function runs.
    version = VERSIONS[name]
    cls = every_line(version)
    everything = {}
    for c in default_coverage(version).values():
        everything.update(c)
    for scen in ALLOC_FAILURE_SCENARIOS:
        for cpus in SCENARIOS[scen].counts:
            build, _ = make_build(cls, scen, 1, cpus)
            # every property too: the built-in versions pass them (the rt runs are
            # test_model_alloc_failure's)
            r = explore(build)
            assert r.complete and not r.violations, (scen, cpus, [v.message for v in r.violations])
            for k, n in r.coverage.items():
                everything[k] = everything.get(k, 0) + n
    assert not [f for f in kernel_functions(version) if f not in ran(everything)]
    unrun = {}
    for fn, lines in cls.__zsmc_every_line__.items():
        missing = sorted(set(lines) - line_coverage.ran_lines(everything, fn))
        if missing:
            src = inspect.getattr_static(version, fn)
            unrun[fn] = sorted(line_coverage.source_line(src, n) for n in missing)
    assert unrun == {fn: sorted(t) for fn, t in _merge(_GAP[name], _COMPAT).items()}


def test_pairs_are_recorded_only_for_operations_that_overlap():
    # compact-compact: the two compactions overlap only on two CPUs or when one is
    # preempted, and compaction_in_progress makes one bail out; both CPU counts
    # still see them together, and nothing else.
    build, _ = make_build(Upstream, "compact-compact", 1, 2)
    r = explore(build, properties=[])
    assert pairs(r.coverage) == {("compaction", "compaction")}
    assert "fn:zs_compact" in r.coverage and "fn:zs_obj_write" not in r.coverage


def test_same_pairs_need_one_zspage_while_both_run():
    # read-migrate: the client's object and the migrated pages are zs2's, so its access and
    # free meet the migration on zs2; its malloc takes zs1 (50%, first on the list).
    build, _ = make_build(Upstream, "read-migrate", 1, 2)
    r = explore(build, properties=[])
    assert ("malloc", "migration") in pairs(r.coverage)
    assert ("malloc", "migration") not in same_pairs(r.coverage)
    assert {("access", "migration"), ("free", "migration")} <= same_pairs(r.coverage)
    # malloc-reuse-migrate: the only free slot is in the migrated page's zspage
    build, _ = make_build(Upstream, "malloc-reuse-migrate", 1, 2)
    r = explore(build, properties=[])
    assert ("malloc", "migration") in same_pairs(r.coverage)


def test_op_object_outside_an_operation_records_nothing():
    from checker import Program, Task, Var
    from checker.coverage import op_object, traced

    v = Var("v", 0)     # two writes each, so that the operations interleave

    def op(key):
        yield v.write(1)
        op_object(key)
        yield v.write(2)

    fam = traced(op, "op", "fam")

    def on(key):
        def task():
            yield from fam(key)
        return task

    def plain():
        op_object("k")
        yield v.write(3)

    r = explore(lambda: Program([Task(on("k"), "a"), Task(plain, "b"), Task(on("other"), "c")]),
                properties=[])
    assert pairs(r.coverage) == {("fam", "fam")}
    assert same_pairs(r.coverage) == set()
    r = explore(lambda: Program([Task(on("k"), "a"), Task(on("k"), "b")]), properties=[])
    assert same_pairs(r.coverage) == {("fam", "fam")}


# -- a variant's own code ------------------------------------------------------------------

class AllocPatch(Upstream):
    """Changes alloc_zspage only (which read-compact never reaches)."""

    def alloc_zspage(self, cls):
        return (yield from super().alloc_zspage(cls))


def test_overridden_and_never_ran_name_the_variants_own_functions():
    assert overridden(AllocPatch, Upstream) == ["alloc_zspage"]
    build, _ = make_build(AllocPatch, "read-compact", 1)
    r = explore(build, properties=[])
    assert never_ran(AllocPatch, Upstream, r.coverage) == ["alloc_zspage"]
    build, _ = make_build(AllocPatch, "malloc-free", 1)
    r = explore(build, properties=[])
    assert never_ran(AllocPatch, Upstream, r.coverage) == []


def write_variant(tmp_path, body, name="patch.py"):
    path = tmp_path / name
    path.write_text("from model import Upstream\n\n" + body)
    return str(path)


def test_a_check_whose_changed_code_never_ran_is_not_a_pass(tmp_path):
    path = write_variant(tmp_path, "class P(Upstream):\n"
                         "    def alloc_zspage(self, cls):\n"
                         "        return (yield from super().alloc_zspage(cls))\n")
    res = CliRunner().invoke(cli.main, ["check", "--variant", f"{path}:P", "--scenario", "read-compact",
                                        "--no-minimize", "--out", str(tmp_path / "t")])
    assert res.exit_code == 5, res.output
    assert "result: NOT A PASS" in res.output
    assert ("never ran: alloc_zspage (changed by the variant); scenario malloc-free runs it at "
            "depth 1: zsmc check --scenario malloc-free --depth 1") in res.output
    res = CliRunner().invoke(cli.main, ["check", "--variant", f"{path}:P", "--scenario", "read-compact",
                                        "--format", "json", "--no-minimize", "--out", str(tmp_path / "t")])
    doc = json.loads(res.stdout)
    assert res.exit_code == 5 and doc["status"] == "not a pass"
    assert doc["never_ran"] == [{"function": "alloc_zspage", "runs_in": ["malloc-free", 1], "lines": None}]
    assert doc["scenarios"][0]["coverage"]["fn:zs_obj_write"] >= 1


def test_the_same_variant_passes_where_its_code_runs(tmp_path):
    path = write_variant(tmp_path, "class P(Upstream):\n"
                         "    def alloc_zspage(self, cls):\n"
                         "        return (yield from super().alloc_zspage(cls))\n")
    res = CliRunner().invoke(cli.main, ["check", "--variant", f"{path}:P", "--scenario", "malloc-free",
                                        "--coverage", "--no-minimize", "--out", str(tmp_path / "t")])
    assert res.exit_code == 0, res.output
    assert "result: pass" in res.output
    table = res.output.split("coverage (", 1)[1]
    assert "alloc_zspage" in table and "zs_page_migrate" in table and "NEVER RAN" in table
    assert "operations together on 2 CPU(s): " in table
    # malloc-free: the two clients' mallocs and frees meet on zs1 and at the 0% list
    assert "operations on one zspage on 2 CPU(s): " in table and "free+malloc" in table


def test_a_misspelt_override_is_refused_with_the_closest_names(tmp_path):
    path = write_variant(tmp_path, "class P(Upstream):\n"
                         "    def zs_fre(self, handle):\n"
                         "        yield from self.zs_free(handle)\n")
    with pytest.raises(UsageError, match=r"P.zs_fre is not a function of upstream.*did you mean zs_free"):
        load_variant(f"{path}:P")
    res = CliRunner().invoke(cli.main, ["check", "--variant", f"{path}:P"])
    assert res.exit_code == 2 and "did you mean zs_free" in res.output


def test_a_new_helper_with_a_new_name_is_allowed(tmp_path):
    path = write_variant(tmp_path, "class P(Upstream):\n"
                         "    def my_checked_free(self, handle):\n"
                         "        yield from self.zs_free(handle)\n")
    assert load_variant(f"{path}:P").__name__ == "P"


def test_where_a_new_helper_runs_is_looked_for_in_the_patch(tmp_path):
    # A helper the patch adds (lock_zspage_held, called by its async_free_zspage) runs
    # nowhere in the base version: the hint looked there, spent its whole search and said
    # "write a scenario" (minutes per check of the lockdep_global variants).
    from pathlib import Path
    spec = (f"{Path(__file__).parent.parent / 'variants' / 'lockdep_global'}"
            "/upstream_async_free_and_malloc_read_lock.py:AsyncFreeAndMallocReadLock")
    res = CliRunner().invoke(cli.main, ["check", "--variant", spec, "--scenario", "malloc-free", "--cpus", "1",
                                        "--out", str(tmp_path), "--no-minimize"])
    assert res.exit_code == 5, res.output
    assert ("never ran: lock_zspage_held (changed by the variant); scenario free-deferred runs it at "
            "depth 1") in res.output


def test_a_kernel_function_called_without_yield_from_names_the_call_site():
    class Forgetful(Upstream):
        def zs_obj_read_end(self, handle, mem):
            obj = yield from self.handle_to_obj(handle)
            zspage = yield from self.get_zspage(obj[0])
            for o in reversed(self.mapped.pop(handle.key, ())):
                yield o.unpin()
            self.zspage_read_unlock(zspage)

    build, _ = make_build(Forgetful, "read-compact", 1)
    with pytest.raises(ModelError, match=r"zspage_read_unlock\(\) was called in zs_obj_read_end "
                                         r"\(test_model_coverage.py:\d+\) but its generator never ran"):
        explore(build, properties=[])


def test_an_unedited_copy_of_the_base_changes_nothing(tmp_path):
    # `zsmc variant new` copies the base's code: until it is edited it changes
    # nothing, so a scenario that does not run it is still a pass.
    path = tmp_path / "copy.py"
    assert CliRunner().invoke(cli.main, ["variant", "new", str(path), "--function", "zs_free",
                                         "--function", "alloc_zspage"]).exit_code == 0
    copy = load_variant(f"{path}:Copy")
    assert overridden(copy, Upstream) == []
    edited = tmp_path / "edited.py"
    edited.write_text(path.read_text().replace("class Copy", "class Edited").replace(
        "def zs_free(self, handle):\n", "def zs_free(self, handle):\n        handle = handle\n"))
    assert overridden(load_variant(f"{edited}:Edited"), Upstream) == ["zs_free"]
    # The same code calling a helper its own module rebinds is a change too.
    rebound = tmp_path / "rebound.py"
    text = path.read_text().replace("class Copy", "class Rebound")
    names = [n for n in Upstream.alloc_zspage.__code__.co_names if n in Upstream.alloc_zspage.__globals__]
    assert names, "alloc_zspage uses no module-level name; pick another function for this test"
    rebound.write_text(text + f"\n\n{names[0]} = None\n")
    assert overridden(load_variant(f"{rebound}:Rebound"), Upstream) == ["alloc_zspage"]


def test_a_helper_named_like_a_kernel_function_that_the_patch_calls_is_allowed(tmp_path):
    # red team round 5: __free_zspage split into a helper the patch's free_zspage calls
    path = write_variant(tmp_path, "class P(Upstream):\n"
                         "    def free_zspage(self, cls, zspage):\n"
                         "        yield from self._free_zspage_pages(cls, zspage)\n"
                         "    def _free_zspage_pages(self, cls, zspage):\n"
                         "        yield from Upstream.free_zspage(self, cls, zspage)\n")
    assert load_variant(f"{path}:P").__name__ == "P"
    # still refused when nothing calls it
    path = write_variant(tmp_path, "class Q(Upstream):\n"
                         "    def _free_zspage_pages(self, cls, zspage):\n"
                         "        yield from Upstream.free_zspage(self, cls, zspage)\n")
    with pytest.raises(UsageError, match=r"Q._free_zspage_pages is not a function of upstream"):
        load_variant(f"{path}:Q")
