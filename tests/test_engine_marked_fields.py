"""A field declared ``atomic`` in a :func:`checker.shared_struct` is exempt from the data-race
check, and an access to it after its step's action is in no footprint: dpor took a step that
reads it as independent of a step that writes it. Found by the red-team variants (a migration
core that reads ``Page.movable`` before its trylock, as the kernel's ``isolate_movable_page``
does, lost a use-after-free that the same trace replays). Atomic accesses are now ordered as
plain ones are (checker/races.py), but an unordered pair is no violation (atomics do not race):
it makes the search incomplete. Adds (``x += n``, ``atomic_long_add``) commute with each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from checker import Obj, Program, Task, Var, explore, label, shared_struct


@shared_struct(owner="desc", const=("desc", "ref"), atomic=("movable", "count"))
@dataclass(slots=True, eq=False)
class _Page:
    desc: Obj
    ref: Var
    movable: bool = True
    count: int = 0


def _build(how):
    def build():
        p = _Page(Obj("p.desc", permanent=True), Var("p.ref", 1, counter=True))
        seen = []

        def scanner():          # folio_try_get, then __folio_test_movable
            old = yield p.ref.rmw(lambda v: v + 1 if v else 0)
            if how == "own step":
                yield label("test movable")
            elif how == "declared":
                yield p.desc.access()
            seen.append(bool(old) and p.movable)

        def freer():            # reset_zpdesc: __ClearPageMovable
            yield p.desc.access(write=True)
            p.movable = False

        return Program([Task(scanner, name="scanner"), Task(freer, name="freer")],
                       observe=lambda: tuple(seen))
    return build


@pytest.mark.parametrize("how", ["after the action", "own step"])
def test_an_unordered_atomic_field_read_makes_the_search_incomplete(how):
    dfs = explore(_build(how), scheduler="dfs")
    dpor = explore(_build(how), scheduler="dpor")
    assert dfs.complete and set(dfs.outcomes) == {(True,), (False,)}    # both orders matter
    assert not dpor.complete and not dpor.violations
    assert "atomic field _Page.movable: freer writes it in freer, unordered with scanner's read" \
        in dpor.reason


def test_an_atomic_field_read_ordered_by_its_action_is_explored_both_ways():
    # The read declared by an access of the page descriptor, which the freer's
    # write of it conflicts with: the two orders are two traces.
    dfs = explore(_build("declared"), scheduler="dfs")
    dpor = explore(_build("declared"), scheduler="dpor")
    assert dpor.complete and not dpor.reason
    assert set(dpor.outcomes) == set(dfs.outcomes) == {(True,), (False,)}


def _adders():
    def build():
        p = _Page(Obj("p.desc", permanent=True), Var("p.ref", 1, counter=True))

        def adder(n):
            def body():
                yield label("add")
                p.count += n            # atomic_long_add
                yield p.ref.add(n)
            return body
        return Program([Task(adder(1), name="a"), Task(adder(2), name="b")],
                       observe=lambda: p.count)
    return build


def test_atomic_adds_after_the_action_keep_the_reduction():
    r = explore(_adders(), scheduler="dpor")
    assert r.complete and r.outcomes == {3} and not r.reason
    assert r.executions == 1        # the adds commute: one trace
