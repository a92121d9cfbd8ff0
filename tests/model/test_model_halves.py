"""The two halves of a spanning object are different bytes (model/page_memory.py).

Every writer stores a whole value in each page a spanning object lies in, so before, a
reader that took the second half from the first page again, a copy that did, or a mapping
of a spanning object in place read the right value and passed.  A read now says which half
it read, by the page it reads; tests/variants/halves/ holds patches of that class (found)
and correct reorderings of the same code (silent).
"""

from __future__ import annotations

import functools
import pathlib
import re

import pytest

from checker import SharedDict, explore
from checker.containers import peek
from model import Upstream
from model.page_memory import Half, PageMem, object_value
from model.registry import VERSIONS, make_build
from model.variant_files import load_file

HERE = pathlib.Path(__file__).parent.parent / "variants" / "halves"

# file -> (scenario, cpus, passed before): a data-integrity violation there, none on the
# base version; what passed before is found by a half read where it does not belong
FOUND = {
    "read_begin_second_half_same_page": ("up-clients", 1, True),
    "read_begin_spanning_in_place": ("up-clients", 1, True),
    "map_second_half_same_page": ("read-migrate", 1, True),
    "object_copy_tail_from_first_page": ("read-compact", 1, True),
    # found before too: its writes in place leave the second page as it was
    "map_spanning_in_place": ("clients", 1, False),
}
# file -> (scenario, depth) that run the code it changes (both CPU counts)
NOT_BUGS = {
    "read_begin_second_half_first": (("up-clients", 1), ("read-compact", 1)),
    "migrate_copy_key_by_key": (("read-migrate", 1), ("migrate-middle", 1)),
    "object_copy_half_by_half": (("read-compact", 2),),
}


def test_every_variant_file_is_classified():
    assert {p.stem for p in HERE.glob("*.py")} == set(FOUND) | set(NOT_BUGS)


@functools.cache
def _variant(name):
    path = HERE / f"{name}.py"
    cls = re.findall(r"^class (\w+)", path.read_text(), re.MULTILINE)[-1]
    return getattr(load_file(str(path)), cls)


def _base(cls):
    return next(v for v in VERSIONS.values() if issubclass(cls, v))


def _explore(cls, scenario, cpus, depth=1):
    build, _ = make_build(cls, scenario, depth, cpus)
    return explore(build, stop_on_violation=True)


@pytest.mark.parametrize("name", sorted(FOUND))
def test_a_half_read_from_the_wrong_page_is_found(name):
    scenario, cpus, gap = FOUND[name]
    r = _explore(_variant(name), scenario, cpus)
    found = [v for v in r.violations if v.property == "data-integrity"]
    assert found, [v.message for v in r.violations]
    assert not gap or "half of" in found[0].message, found[0].message
    base = _explore(_base(_variant(name)), scenario, cpus)
    assert base.complete and not base.violations


@pytest.mark.parametrize("name", sorted(NOT_BUGS))
def test_the_same_halves_in_another_order_pass(name):
    for scenario, depth in NOT_BUGS[name]:
        for cpus in (1, 2):
            r = _explore(_variant(name), scenario, cpus, depth)
            assert r.complete and not r.violations, (scenario, cpus, [v.message for v in r.violations])


# -- the value of an object from its parts ---------------------------------------------
def test_object_value_joins_a_first_and_a_second_half_of_one_value():
    assert object_value((Half(True, "v"), Half(False, "v"))) == "v"
    # a page migrated away no longer knows its zspage: its part is taken as a first half
    assert object_value(("v", Half(False, "v"))) == "v"
    assert object_value(("v",)) == "v"


@pytest.mark.parametrize("parts", [
    (Half(True, "v"), Half(True, "v")),          # the first page read twice
    (Half(False, "v"), Half(False, "v")),        # the second page read twice
    (Half(False, "v"), Half(True, "v")),         # the halves swapped
    ("v", "v"),                                  # no second half at all
    (Half(True, "a"), Half(False, "b")),         # a torn object
])
def test_object_value_of_anything_else_is_torn(parts):
    assert object_value(parts) == ("torn",) + parts


def test_a_first_half_read_as_a_whole_object_is_not_its_value():
    assert object_value((Half(True, "v"),)) != "v"
    assert repr(Half(True, "v")) == "first half of 'v'"
    assert repr(Half(False, "v")) == "second half of 'v'"


# -- a page's memory -------------------------------------------------------------------
def test_a_page_reads_which_half_of_a_spanning_object_it_holds():
    build, _ = make_build(Upstream, "up-clients", 1, 1)
    pool = build().context
    for cls in pool.size_class:
        g = cls.geometry
        for z in cls.ghost_zspages:
            pages = z.pages()
            for no, page in enumerate(pages):
                for idx in page.first_objs:
                    if g.location(idx)[2]:
                        head = page.mem.get(("data", idx))
                        tail = pages[no + 1].mem.get(("data", idx))
                        assert type(head) is Half and head.first
                        assert type(tail) is Half and not tail.first
                        assert object_value((head, tail)) == peek(page.mem)[("data", idx)]
                        return
    pytest.fail("up-clients builds no spanning object")


def test_whatever_a_variant_stores_in_page_mem_is_that_pages_memory():
    pool = make_build(Upstream, "up-clients", 1, 1)[0]().context
    page = pool.size_class[0].ghost_zspages[0].first
    before = dict(peek(page.mem))
    page.mem = SharedDict(page.mem)          # a variant's copy_page, as the model spelled it
    assert type(page.mem) is PageMem and page.mem._page is page
    assert dict(peek(page.mem)) == before
    page.mem = {("data", 99): "x"}           # a plain dict too
    assert type(page.mem) is PageMem and peek(page.mem) == {("data", 99): "x"}


def test_a_half_stored_elsewhere_stays_the_half_it_was():
    pool = make_build(Upstream, "up-clients", 1, 1)[0]().context
    page = pool.size_class[0].ghost_zspages[0].first
    idx = page.first_objs[0]
    page.mem[("data", idx)] = Half(False, "v")     # a second half copied into a first place
    assert page.mem.get(("data", idx)) == Half(False, "v")
    assert page.mem[("data", idx)] == Half(False, "v")
    assert page.mem.get(("data", 12345), "none") == "none"
