"""checker/races.py on sc: a declared access (``Obj.access``) orders nothing by itself.

Two declared accesses of one object conflict for the search, which runs both orders of
them; they do not synchronise.  The data-race check judges plain memory by the order of
locks, Vars, lifetimes and program order only, so two declared writes without a lock race
and with one do not; a field the kernel only touches marked (``atomic=``) does not race;
a declared store of the value already there is a read (KCSAN's default configuration);
and a race the search ran both orders of leaves it complete when ``data-race`` is not
checked.  docs/design.md, "A declared access orders nothing".
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from checker import Obj, Program, SpinLock, Task, Var, explore, label, shared_struct


@shared_struct(owner="obj")
@dataclass(slots=True, eq=False)
class Cell:
    obj: Obj
    x: int = 0
    y: int = 0


@shared_struct(owner="obj", atomic=("x",))
@dataclass(slots=True, eq=False)
class MarkedCell:
    obj: Obj
    x: int = 0
    y: int = 0


def writers(locked: bool, marked: bool = False, values=(1, 2)):
    """Two tasks, each a declared write of ``x`` (``obj_free``'s ``inuse--`` shape), with
    or without a lock around it."""
    def build():
        c = (MarkedCell if marked else Cell)(Obj("cell"))
        lk = SpinLock("lk")

        def w(v):
            def run():
                if locked:
                    yield lk.acquire()
                yield c.obj.access(write=True, marked=False)
                c.x = v
                if locked:
                    yield lk.release()
            return run

        return Program([Task(w(values[0]), "A"), Task(w(values[1]), "B")], observe=lambda: c.x)
    return build


@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_two_declared_writes_without_a_lock_race(scheduler):
    r = explore(writers(locked=False), scheduler=scheduler, properties=["data-race"])
    [v] = r.violations
    assert v.property == "data-race" and "data race on Cell.x" in v.message
    assert "both are declared" in v.message and len(v.involved) == 2


@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_two_declared_writes_under_one_lock_do_not_race(scheduler):
    r = explore(writers(locked=True), scheduler=scheduler, properties=["data-race"])
    assert r.complete and not r.violations and r.outcomes == {1, 2}


@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_two_declared_writes_of_a_marked_field_do_not_race(scheduler):
    r = explore(writers(locked=False, marked=True), scheduler=scheduler, properties=["data-race"])
    assert r.complete and not r.violations and r.outcomes == {1, 2}


def test_the_search_is_the_same_whether_or_not_the_race_is_checked():
    # The footprints are the actions': the check changes no exploration.
    counts = set()
    for props in (["data-race"], ["deadlock"]):
        for locked in (False, True):
            r = explore(writers(locked=locked), properties=props, stop_on_violation=False)
            counts.add((locked, r.executions))
    assert counts == {(False, 2), (True, 2)}


def test_an_unchecked_race_of_declared_accesses_leaves_the_search_complete():
    r = explore(writers(locked=False), properties=["deadlock"])
    assert r.complete and not r.violations and not r.races and r.outcomes == {1, 2}


def test_an_atomic_variable_orders_declared_accesses():
    # Message passing through a Var: the flag's write and read order the data, declared
    # or not (a Var's actions are the kernel's atomics).
    def build():
        c = Cell(Obj("cell"))
        flag = Var("flag", 0)
        seen = []

        def producer():
            yield c.obj.access(write=True, marked=False)
            c.x = 5
            yield flag.write(1)

        def consumer():
            if (yield flag.read()):
                yield c.obj.access(marked=False)
                seen.append(c.x)

        return Program([Task(producer, "P"), Task(consumer, "C")], observe=lambda: tuple(seen))

    r = explore(build, properties=["data-race"])
    assert r.complete and not r.violations and r.outcomes == {(), (5,)}


def _store_and_read(declared_store: bool, value: int):
    """A declared read of ``x`` against a store of ``value`` to it (``x`` is 0)."""
    def build():
        c = Cell(Obj("cell"))
        seen = []

        def store():
            if declared_store:
                yield c.obj.access(write=True, marked=False)
            else:
                yield label("store")
            c.x = value

        def read():
            yield c.obj.access(marked=False)
            seen.append(c.x)

        return Program([Task(store, "S"), Task(read, "R")], observe=lambda: tuple(seen))
    return build


@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_a_declared_store_of_the_value_already_there_is_no_race(scheduler):
    # create_page_chain's zpdesc->zspage = zspage against another migration's lockless
    # get_zspage: the value does not change (KCSAN_REPORT_VALUE_CHANGE_ONLY).
    r = explore(_store_and_read(True, 0), scheduler=scheduler, properties=["data-race"])
    assert r.complete and not r.violations and r.outcomes == {(0,)}


@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_a_declared_store_that_changes_the_value_races(scheduler):
    r = explore(_store_and_read(True, 1), scheduler=scheduler, properties=["data-race"])
    assert [v.property for v in r.violations] == ["data-race"]


def test_an_undeclared_store_of_the_same_value_still_races():
    # The rule is for declared stores only (both orders in the search): an undeclared
    # one is judged where it stands, after its action.
    r = explore(_store_and_read(False, 0), properties=["data-race"])
    assert [v.property for v in r.violations] == ["data-race"]


def test_a_store_of_the_same_value_after_a_different_one_in_its_step_changes_it():
    def build():
        c = Cell(Obj("cell"))

        def clear_then_set():           # zpdesc->zspage = NULL; ... = zspage
            yield c.obj.access(write=True, marked=False)
            c.x = 7
            c.x = 0

        def read():
            yield c.obj.access(marked=False)
            return c.x

        return Program([Task(clear_then_set, "S"), Task(read, "R")])

    r = explore(build, properties=["data-race"])
    assert [v.property for v in r.violations] == ["data-race"]


def test_a_same_value_store_against_a_changing_one_races():
    r = explore(writers(locked=False, values=(0, 1)), properties=["data-race"])
    assert [v.property for v in r.violations] == ["data-race"]


@shared_struct(owner="desc", const=("frame", "ref"))
@dataclass(slots=True, eq=False)
class _Page:
    desc: Obj
    frame: Obj
    ref: Var
    mark: int = 0


def test_a_declared_step_does_not_stand_in_for_the_synchronising_one_before_it():
    # The last put's free check reads ``mark`` (its footprint holds the descriptor), then
    # the same task declares a read of the descriptor; another task's declared write of
    # ``mark`` after both is ordered after the put (a lifetime: the free), whatever the
    # declared read after it.  Found on free-migrate at depth 2, when a task's latest
    # read of an object stood in for its earlier ones.
    def build():
        p = _Page(Obj("p.desc", permanent=True), Obj("p.frame"), Var("p.ref", 1, counter=True))
        seen = []

        def putter():
            def free_pages_prepare():
                seen.append(p.mark)
            yield p.ref.add(-1, frees=p.frame, on_free=free_pages_prepare)
            yield p.desc.access(marked=False)
            seen.append(p.mark)

        def writer():
            yield label("w")
            yield p.desc.access(write=True, marked=False)
            p.mark = 5

        return Program([Task(putter, "putter", 0), Task(writer, "writer", 1)], cpus=2,
                       observe=lambda: tuple(seen))

    # Unordered with the write, the free check's read races with it: the test is that
    # the race reported is between the two declared accesses, never the free check's.
    r = explore(build, properties=["data-race"], stop_on_violation=False)
    assert r.violations
    assert all("at add(" not in v.message for v in r.violations), [v.message for v in r.violations]


# -- marked and plain declared accesses (docs/design.md, "Marked and plain accesses") -----

def _pair(first, second, memory_model=None):
    """Two tasks, no lock: each a declared access of ``x``, ``(write, marked)``."""
    def build():
        c = Cell(Obj("cell"))
        seen = []

        def task(write, marked, v):
            def run():
                yield c.obj.access(write=write, marked=marked)
                if write:
                    c.x = v             # a new value (no store of the value already there)
                else:
                    seen.append(c.x)
            return run

        kw = {"memory_model": memory_model} if memory_model else {}
        return Program([Task(task(*first, 1), "A"), Task(task(*second, 2), "B")],
                       observe=lambda: (tuple(seen), c.x), **kw)
    return build


READ, WRITE = False, True
MARKED, PLAIN, BARE = True, False, None
# (A, B) -> a data race?  KCSAN's default configuration but for two plain writes.
MARKING = {
    ((READ, MARKED), (WRITE, MARKED)): False,       # READ_ONCE / WRITE_ONCE
    ((WRITE, MARKED), (WRITE, MARKED)): False,
    ((READ, MARKED), (WRITE, PLAIN)): False,        # KCSAN_ASSUME_PLAIN_WRITES_ATOMIC
    ((WRITE, MARKED), (WRITE, PLAIN)): False,       # likewise
    ((READ, PLAIN), (WRITE, MARKED)): True,         # a plain read races with any write
    ((READ, PLAIN), (WRITE, PLAIN)): True,
    ((WRITE, PLAIN), (WRITE, PLAIN)): True,         # a lost store: the model reports it
    ((READ, BARE), (WRITE, BARE)): False,           # an old file's READ_ONCE peek
    ((READ, BARE), (WRITE, PLAIN)): False,
    ((READ, PLAIN), (WRITE, BARE)): True,           # a bare write is plain
}


@pytest.mark.parametrize("memory_model", [None, "ra"])
@pytest.mark.parametrize("pair", sorted(MARKING, key=repr), ids=repr)
def test_marking_decides_whether_two_unordered_declared_accesses_race(pair, memory_model):
    for first, second in (pair, pair[::-1]):
        r = explore(_pair(first, second, memory_model), properties=["data-race"],
                    stop_on_violation=False)
        if MARKING[pair]:
            assert r.violations and {v.property for v in r.violations} == {"data-race"}, pair
            assert "data race on Cell.x" in r.violations[0].message
        else:
            assert r.complete and not r.violations, (pair, [v.message for v in r.violations])
            # Both orders ran: the reader saw the value before and after the write.
            if first[0] != second[0]:
                assert len(r.outcomes) == 2, r.outcomes


@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_two_marked_accesses_run_both_orders_and_do_not_race(scheduler):
    r = explore(_pair((READ, MARKED), (WRITE, MARKED)), scheduler=scheduler, properties=["data-race"])
    assert r.complete and not r.violations
    assert r.outcomes == {((0,), 2), ((2,), 2)}


def test_a_marked_read_against_an_undeclared_write_still_races():
    # The search orders only what the actions declare: a write after an action that did
    # not declare it is unordered for the search, whatever the reader's marking.
    def build():
        c = Cell(Obj("cell"))

        def writer():
            yield label("w")
            c.x = 1

        def reader():
            yield c.obj.access(marked=True)
            return c.x

        return Program([Task(writer, "writer"), Task(reader, "reader")])

    r = explore(build, properties=["data-race"])
    assert [v.property for v in r.violations] == ["data-race"]


def test_marking_applies_to_what_the_action_declared_only():
    # A marked read declares reads: a write in the same step is undeclared and plain.
    def build():
        c = Cell(Obj("cell"))

        def a():
            yield c.obj.access(marked=True)
            c.x = c.x + 1

        def b():
            yield c.obj.access(marked=True)
            return c.x

        return Program([Task(a, "A"), Task(b, "B")])

    r = explore(build, properties=["data-race"])
    assert [v.property for v in r.violations] == ["data-race"]


def test_a_bad_marking_is_refused_in_one_line():
    from checker import ModelError
    with pytest.raises(ModelError, match=r"marked= takes True .* got 'yes'"):
        Obj("cell").access(marked="yes")


def _plain_then_marked(memory_model=None, second_plain=True):
    """A: a plain write of ``x``, then a marked one (WRITE_ONCE); B: one write of ``x``,
    plain (or marked).  No lock."""
    def build():
        c = Cell(Obj("cell"))

        def a():
            yield c.obj.access(write=True, marked=False)
            c.x = 1
            yield c.obj.access(write=True, marked=True)
            c.x = 2

        def b():
            yield c.obj.access(write=True, marked=not second_plain)
            c.x = 3

        kw = {"memory_model": memory_model} if memory_model else {}
        return Program([Task(a, "A"), Task(b, "B")], observe=lambda: c.x, **kw)
    return build


@pytest.mark.parametrize("memory_model", [None, "ra"])
@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_a_plain_write_followed_by_a_marked_one_still_races_with_a_plain_write(scheduler, memory_model):
    # The detector keeps each task's latest write of a field: in an execution where B's
    # plain write comes after A's marked one, it meets only the marked write (no race:
    # KCSAN_ASSUME_PLAIN_WRITES_ATOMIC) and not A's plain one before it.  The search
    # reverses B's write against A's marked one, and in the execution where B's lands
    # between A's two writes, it meets the plain one: two plain writes, a race.  So the
    # check reports it whichever order the search took first (stop 31's open point).
    r = explore(_plain_then_marked(memory_model), scheduler=scheduler, properties=["data-race"],
                stop_on_violation=False)
    assert r.violations and {v.property for v in r.violations} == {"data-race"}
    assert all("data race on Cell.x" in v.message for v in r.violations)
    # ...and B marked too: the only plain access is A's first write, against marked ones
    # (a marked write against a plain write is no race), so nothing to report, both orders run.
    r = explore(_plain_then_marked(memory_model, second_plain=False), scheduler=scheduler,
                properties=["data-race"], stop_on_violation=False)
    assert r.complete and not r.violations, [v.message for v in r.violations]
    assert r.outcomes == {2, 3}
