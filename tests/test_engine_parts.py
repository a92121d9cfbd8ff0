"""``Obj(parts=...)``: a struct's fields split over footprints, the whole declaring every part.

The model's page descriptor keeps its chain words (``zspage``, ``next``, ``first``) in a part:
``create_page_chain`` declares only the part, so a put, whose free check reads the page's
type and movable bit from the rest, is independent of a chain rewrite.  These tests pin the
three things that makes sound: a part's step is independent of what reads the rest (one
execution where the whole gives two), declaring the whole still covers a part's field (code
written before the split), and a step that declares the part but touches the rest is a data
race the detector names, never a silent independence.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from checker import Bug, ModelError, Obj, Program, Task, Var, actions, explore, shared_struct


@shared_struct(owner="desc", const=("frame", "ref"), owners={"next": "chain"})
@dataclass(slots=True, eq=False)
class _Page:
    desc: Obj
    chain: Obj
    frame: Obj
    ref: Var
    movable: bool = False
    next: object = None


def _page():
    chain = Obj("p.chain", permanent=True)
    return _Page(Obj("p.desc", permanent=True, parts=(chain,)), chain, Obj("p.frame"),
                 Var("p.ref", 1, counter=True))


def _program(writer):
    """``writer(p)`` against the last put of ``p``, whose free check reads ``movable``."""
    def build():
        p = _page()

        def putter():
            def free_pages_prepare():
                if p.movable:
                    raise Bug("Bad page state: p freed while movable")
            yield p.ref.add(-1, frees=p.frame, on_free=free_pages_prepare)

        def writing():
            yield from writer(p)

        return Program([Task(writing, "writer", 0), Task(putter, "putter", 1)], cpus=2)
    return build


def _chain_rewrite(p):          # create_page_chain: the part alone
    yield p.chain.access(write=True)
    p.next = "p2"


def _set_movable(p):            # SetZsPageMovable: the whole
    yield p.desc.access(write=True)
    p.movable = True


def _old_chain_rewrite(p):      # written before the split: declares the whole
    yield p.desc.access(write=True)
    p.next = "p2"


def _wrong_part(p):             # declares the part, writes the rest
    yield p.chain.access(write=True)
    p.movable = True


@pytest.mark.parametrize("scheduler", ["dpor", "dfs"])
def test_a_part_write_is_independent_of_the_free_check(scheduler):
    r = explore(_program(_chain_rewrite), scheduler=scheduler)
    assert r.complete and not r.violations
    assert r.executions == (1 if scheduler == "dpor" else 2)


def _clear_movable(p):          # __ClearPageMovable of a page that was not movable
    yield p.desc.access(write=True)
    p.movable = False


@pytest.mark.parametrize("scheduler", ["dpor", "dfs"])
def test_the_whole_conflicts_with_the_free_check(scheduler):
    r = explore(_program(_clear_movable), scheduler=scheduler)
    assert r.complete and not r.violations
    assert r.executions == 2
    r = explore(_program(_set_movable), scheduler=scheduler)
    assert [v.property for v in r.violations] == ["bug"]


def test_declaring_the_whole_covers_a_part_field():
    """Code written against the whole descriptor (a user's variant of create_page_chain)
    keeps working: its write of a chain word is declared, and the search runs it in both
    orders with a reader of the part (unlocked, the two are a data race when checked: the
    reader's access is spelled plain; a bare read is marked, a READ_ONCE, which KCSAN does
    not report against a plain write)."""
    def build():
        p = _page()

        def reader():
            yield p.chain.access(marked=False)
            return p.next

        def writer():
            yield from _old_chain_rewrite(p)

        return Program([Task(writer, "writer", 0), Task(reader, "reader", 1)], cpus=2)
    r = explore(build, scheduler="dpor", properties=["deadlock"])
    assert r.complete and not r.violations
    assert r.executions == 2
    r = explore(build, scheduler="dpor")
    assert [v.property for v in r.violations] == ["data-race"]


def test_declaring_the_part_and_writing_the_rest_is_a_data_race():
    r = explore(_program(_wrong_part), scheduler="dpor")
    races = [v for v in r.violations if v.property == "data-race"]
    assert races, [v.property for v in r.violations]
    assert "_Page.movable" in races[0].message and "_wrong_part" in races[0].message


def test_the_action_reads_as_declared():
    p = _page()
    assert p.desc.access(write=True).describe() == "access(p.desc, write)"
    assert p.chain.access().describe() == "access(p.chain, read)"
    assert actions.access(p.desc, also=(p.frame,)).describe() == "access(p.desc + p.frame, read)"


@pytest.mark.parametrize("make", [
    lambda: Obj("whole", permanent=True, parts=(Obj("part"),)),
    lambda: Obj("whole", parts=(Obj("part", permanent=True),)),
    lambda: Obj("whole", permanent=True, parts=("part",)),
])
def test_parts_must_be_never_freed_objs(make):
    with pytest.raises(ModelError, match="parts= takes permanent Objs"):
        make()
