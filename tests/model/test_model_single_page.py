"""One-page zspages (``migrate-single``) and the shape of a chain (model.invariants
``chain_problems``).

Most of the kernel's size classes have one-page zspages; the default scenarios had none.
The boundary check of a new comparison found it (``len(pages) > 1`` in red team round 4's
``replace_sub_page_splice_no_next`` never ran with one page).  A patch with a fast path for
one-page chains was "not a pass" (its code never ran); with ``migrate-single`` it is
judged, and the chain's shape is checked at the end of every execution, since no kernel
function of the model reads the first-page flag that such a fast path forgets.
"""

from __future__ import annotations

import pathlib
import re

import pytest

from checker import explore
from model import Upstream
from model.invariants import chain_problems
from model.registry import make_build
from model.scenarios import SCENARIOS
from model.variant_files import load_file

HERE = pathlib.Path(__file__).parent.parent / "variants" / "single_page"


def _variant(name):
    path = HERE / f"{name}.py"
    cls = re.findall(r"^class (\w+)", path.read_text(), re.MULTILINE)[-1]
    return getattr(load_file(str(path)), cls)


def test_migrate_single_is_a_default_scenario_of_one_page_zspages():
    s = SCENARIOS["migrate-single"]
    assert s.default and s.counts == (2, 1)
    pool = make_build(Upstream, "migrate-single", 1, 1)[0]().context
    assert [cls.pages_per_zspage for cls in pool.size_class] == [1]


@pytest.mark.parametrize("cpus", [2, 1])
def test_a_one_page_fast_path_that_forgets_the_first_flag_is_found(cpus):
    r = explore(make_build(_variant("replace_sub_page_single_fast_path"), "migrate-single", 1, cpus)[0],
                stop_on_violation=True)
    assert any(v.property == "pool-consistency" and "not marked first" in v.message
               for v in r.violations), [v.message for v in r.violations]


@pytest.mark.parametrize("cpus", [2, 1])
def test_a_one_page_fast_path_doing_what_create_page_chain_does_passes(cpus):
    r = explore(make_build(_variant("replace_sub_page_single_rebuilt"), "migrate-single", 1, cpus)[0])
    assert r.complete and not r.violations, [v.message for v in r.violations]


def _zspage(scenario="migrate-middle"):
    pool = make_build(Upstream, scenario, 1, 1)[0]().context
    return pool.size_class[0].ghost_zspages[0]


def test_a_built_chain_has_no_problem():
    for name in ("migrate-single", "migrate-middle", "read-migrate"):
        pool = make_build(Upstream, name, 1, 1)[0]().context
        for cls in pool.size_class:
            for z in cls.ghost_zspages:
                assert chain_problems(z) == []


@pytest.mark.parametrize("damage,words", [
    (lambda z, p: setattr(p[1], "first", True), "is marked first"),
    (lambda z, p: setattr(p[0], "first", False), "not marked first"),
    (lambda z, p: setattr(p[2], "zspage", None), "belongs to None"),
    (lambda z, p: setattr(p[1], "zsmalloc", False), "lost the zsmalloc page type"),
    (lambda z, p: setattr(p[1], "first_objs", ()), "says objects () start in it"),
    (lambda z, p: setattr(p[1], "next", None), "chain has 2 page(s), its class 3"),
])
def test_each_damage_to_a_chain_is_named(damage, words):
    z = _zspage()
    damage(z, z.pages())
    [problem] = chain_problems(z)
    assert words in problem, problem
