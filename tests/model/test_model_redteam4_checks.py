"""Held-out bug variants, fourth round, on the checks (tests/variants/redteam4_checks/*.py):
kernel patches written from zsmalloc-protocol.md to find what the engine or the model took
on faith -- an access no footprint shows, state kept where the engine cannot see it, a check
stricter or looser than the protocol.  (The round's scenario gaps are in
test_model_redteam4.py.)  What the round exposed, each with its mechanism:

* async_free_class_after_free: a constant field (``Zspage.cls``) read after the zspage was
  freed passed -- constant fields were never recorded.  A constant read is now a use of its
  owner's memory: a use after free, or a race with the free (checker/memory.py ``_Const``).
* compact_static_flag: a module-level ``SimpleNamespace`` written as a C static passed -- only
  attribute stores on classes and modules were refused; now any module global's
  (model/hidden_state.py), and the fingerprint reads such an object's attributes.
* malloc_last_zspage_default_arg: a mutable default argument (a C static) made dpor fail
  with an internal error -- now refused at load, and whatever hides state, a replayed step
  that does something else is a ModelError naming it (checker/world.py, determinism).
* free_recent_frozen_struct: a plain list inside a frozen dataclass passed -- frozen values
  are now checked field by field (and a mapping proxy is copied).
* malloc_count_pages_early: a false alarm -- ``pool->pages_allocated`` (an atomic_long_t no
  lock guards) was checked at every class unlock; it is judged at the end now.
* fullness_round_up: a false alarm -- the checks used the built-in ``get_fullness_group``,
  not the version's; fullness_ratio_only passed -- 0% and 100% were exact for the classes
  the scenarios build (at most 4 objects) and not past 100 objects.  The checks use the
  version's grouping and probe it over every class the kernel can have.
Also found by the round: a lock release had no footprint the free of its memory conflicts
with (tests/model/test_model_redteam3.py, zsl_read_unlock_release_after_dec).
"""

from __future__ import annotations

import functools
import pathlib
import re

import pytest

from checker import explore
from checker.errors import ModelError, UsageError
from model.registry import VERSIONS, make_build
from model.variant_files import load_file
from properties import NAMES

HERE = pathlib.Path(__file__).parent.parent / "variants" / "redteam4_checks"

# file -> (scenario, cpus, property the violation must include)
FOUND = {
    "async_free_class_after_free": ("free-deferred", 2, "no-free-while-mapped"),
    "migrate_first_obj_after_unlock": ("compact-migrate", 1, "pool-consistency"),
    "malloc_lockless_peek": ("read-compact", 1, "bug"),
    "fullness_ratio_only": ("malloc-free", 1, "pool-consistency"),
}
# file -> words of the one-line error at load or during the search
REFUSED = {
    "compact_static_flag": "assigns attribute compacting of module-level SimpleNamespace",
    "malloc_last_zspage_default_arg": "keeps a dict in default argument _last",
    "free_recent_frozen_struct": "inside a tuple or frozen value",
    "free_recent_list_lazy": "changed it afterwards",
}
# file -> scenarios that run the code it changes (both CPU counts)
NOT_BUGS = {
    "malloc_count_pages_early": ("malloc-free", "clients"),
    "read_end_cached_zspage": ("up-read-compact", "read-compact"),
    "async_free_skip_empty_lockless": ("two-classes", "clients-worker"),
    "obj_malloc_inline_walk": ("compact-partial",),
    "fullness_round_up": ("up-read-compact", "clients"),
}


def test_every_variant_file_is_classified():
    names = {p.stem for p in HERE.glob("*.py")}
    assert names == set(FOUND) | set(REFUSED) | set(NOT_BUGS) | {"malloc_hint_class_static"}


@functools.cache
def _variant(name):
    path = HERE / f"{name}.py"
    cls = re.findall(r"^class (\w+)", path.read_text(), re.MULTILINE)[-1]
    return getattr(load_file(str(path)), cls)


def _explore(cls, scenario, cpus, properties=None):
    build, _ = make_build(cls, scenario, 1, cpus)
    return explore(build, properties=properties, stop_on_violation=True)


# READ_ONCE peeks written, as docs/model.md said before stop 30, as a bare declared read of
# their own (``yield cls.obj.access()``): a bare declared read is marked, and a marked read
# against the built-in model's plain writes under the lock is no data race
# (KCSAN_ASSUME_PLAIN_WRITES_ATOMIC; docs/design.md, "Marked and plain accesses").
READ_ONCE_PEEKS = {"async_free_skip_empty_lockless"}


@pytest.mark.parametrize("name", sorted(FOUND))
def test_redteam4_check_variant_is_found(name):
    scenario, cpus, prop = FOUND[name]
    # data-race aside unless it is the finding (test_model_redteam.violations says why)
    r = _explore(_variant(name), scenario, cpus, None if prop == "data-race" else list(NAMES))
    assert any(v.property == prop for v in r.violations), [v.message for v in r.violations]
    base = _explore(next(v for v in VERSIONS.values() if issubclass(_variant(name), v)), scenario, cpus)
    assert base.complete and not base.violations


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_redteam4_hidden_state_is_refused_in_one_line(name):
    with pytest.raises((UsageError, ModelError)) as e:
        for scenario in ("malloc-free", "compact-compact"):
            _explore(_variant(name), scenario, 1)
    assert REFUSED[name] in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("name", sorted(NOT_BUGS))
def test_redteam4_check_non_bug_passes(name):
    for scenario in NOT_BUGS[name]:
        for cpus in (1, 2):
            r = _explore(_variant(name), scenario, cpus)
            assert r.complete and not r.violations, (scenario, cpus, [v.message for v in r.violations])


@pytest.mark.parametrize("name", sorted(READ_ONCE_PEEKS))
def test_a_read_once_peek_declared_as_a_bare_access_is_no_race(name):
    for scenario in NOT_BUGS[name]:
        r = _explore(_variant(name), scenario, 2, ["data-race"])
        assert r.complete and not r.violations, [v.message for v in r.violations]


def test_the_same_peek_spelled_plain_is_a_race():
    # The peek copied as a plain read (``marked=False``, as the built-in model spells its
    # locked reads): a plain read against a locked write of the list, which KCSAN reports.
    from checker import SharedList, label
    from model.pool import DEFERRED, ZS_INUSE_RATIO_0
    base = _variant("async_free_skip_empty_lockless")

    class PlainPeek(base):
        def async_free_zspage(self):
            pool = self.pool
            first = True
            for cls in pool.size_class:
                yield cls.obj.access(marked=False)      # list_empty() made plain
                if not cls.fullness_list[ZS_INUSE_RATIO_0]:
                    continue
                yield cls.lock.acquire()
                if first:
                    yield label("async_free_zspage")
                    first = False
                yield cls.obj.access(write=True, marked=False)
                spliced = cls.fullness_list[ZS_INUSE_RATIO_0]
                cls.fullness_list[ZS_INUSE_RATIO_0] = SharedList()
                for zspage in spliced:
                    yield zspage.obj.access(write=True, marked=False)
                    zspage.list = DEFERRED
                pool.deferred.extend(spliced)
                yield cls.lock.release()
            yield from self._free_deferred()

    found = [v for scenario in NOT_BUGS["async_free_skip_empty_lockless"]
             for v in _explore(PlainPeek, scenario, 2, ["data-race"]).violations]
    assert found and {v.property for v in found} == {"data-race"}
    assert all("SizeClass.fullness_list" in v.message for v in found), [v.message for v in found]


def test_a_held_class_static_is_found_or_refused():
    # malloc_hint_class_static: found as a use after free, or refused when the class
    # attribute's change is seen first; never a pass.
    try:
        r = _explore(_variant("malloc_hint_class_static"), "read-compact", 1)
    except (UsageError, ModelError) as e:
        assert "self.pool.extra" in str(e)
    else:
        assert r.violations


@pytest.mark.parametrize("version", ["upstream", "v5", "legacy"])
def test_the_read_once_peek_is_silent_on_rt_and_its_base_too(version):
    # The peek's variant is upstream's; the base versions' own async free under rt.
    from checker import explore as run
    cls = _variant("async_free_skip_empty_lockless") if version == "upstream" else VERSIONS[version]
    build, _ = make_build(cls, "clients-worker", 1, 2, config="rt")
    r = run(build, properties=["data-race"], stop_on_violation=True)
    assert r.complete and not r.violations, [v.message for v in r.violations]
