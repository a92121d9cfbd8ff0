"""Reads under a reference (checker/refs.py): a task's read of an object it holds a
reference to commutes with other tasks' puts, and the World checks the references.

The count of a page frame (``Var(keeps=frame)``) is what keeps it alive; the last put
frees it.  A read by a task that took a reference of its own cannot meet a free, so
dpor need not run it both before and after a put; a put that drops a reference some
task still counts on breaks that, and the search starts again without the reduction.
Differential programs with and without ``keeps`` are in test_engine_differential.py.
"""

from __future__ import annotations

import pytest

from checker import ModelError, Monitor, Obj, Program, Task, Var, explore
from checker import actions as A
from checker.reductions import Declarations


def _inc_unless_zero(v):
    return v + 1 if v > 0 else v


def _reader_and_putter(keeps: bool, steal: bool = False):
    """A reader taking a reference with ``get_page_unless_zero`` and reading the
    frame; another task dropping the reference it holds (and, with ``steal``, one
    more it never took: the reader's)."""
    seen = []

    def build():
        frame = Obj("frame")
        ref = Var("ref", 1, counter=True, keeps=frame if keeps else None)
        seen.clear()

        def reader():
            old = yield ref.rmw(_inc_unless_zero)
            if old > 0:
                yield frame.access()
                seen.append(frame.alive)
                yield ref.add(-1, frees=frame)

        def putter():
            yield ref.add(-1, frees=frame)
            if steal:
                yield ref.add(-1, frees=frame)

        return Program([Task(reader, name="reader"), Task(putter, name="putter")],
                       observe=lambda: (tuple(seen), ref.value, frame.alive))
    return build


def _without_reduction():
    d = Declarations()
    d.references = False
    return d


def test_a_read_under_a_reference_commutes_with_another_tasks_put():
    full = explore(_reader_and_putter(keeps=False), scheduler="dpor", properties=[])
    reduced = explore(_reader_and_putter(keeps=True), scheduler="dpor", properties=[])
    dfs = explore(_reader_and_putter(keeps=True), scheduler="dfs", properties=[])
    assert full.complete and reduced.complete
    # get first: the putter's put before or after the read (2), or put first (1).
    assert full.executions == 3
    assert reduced.executions == 2
    assert reduced.outcomes == full.outcomes == dfs.outcomes
    assert not reduced.note


def test_the_reduction_can_be_withdrawn_and_then_counts_as_before():
    off = explore(_reader_and_putter(keeps=True), scheduler="dpor", properties=[],
                  declarations=_without_reduction())
    assert off.executions == 3


def test_a_put_of_a_reference_another_task_took_withdraws_the_reduction():
    """The putter drops the reader's reference too: the frame is freed while the reader
    counts on it, and the read may come after the free (a use after free dfs finds).
    dpor must find it too: the broken reference makes it search again without the
    reduction, and say so."""
    build = _reader_and_putter(keeps=True, steal=True)
    dfs = explore(build, scheduler="dfs", stop_on_violation=False)
    dpor = explore(build, scheduler="dpor", stop_on_violation=False)
    assert "reads under a reference not commuted with puts" in dpor.note
    assert dpor.outcomes == dfs.outcomes
    assert {v.property for v in dpor.violations} == {v.property for v in dfs.violations}
    assert any(not alive for alive in {o[0][0] for o in dfs.outcomes if o[0]}), \
        "the program must read the frame after its free in some execution"


def test_a_write_under_a_reference_still_conflicts_with_puts():
    """Only reads are relaxed: a write keeps its footprint on the lifetime."""
    def build():
        frame = Obj("frame")
        ref = Var("ref", 1, counter=True, keeps=frame)

        def writer():
            yield ref.add(1)
            yield frame.access(write=True)
            yield ref.add(-1, frees=frame)

        def putter():
            yield ref.add(-1, frees=frame)

        return Program([Task(writer, name="writer"), Task(putter, name="putter")])
    # get before or after the put (they conflict); after the get, the put before or
    # after the write.
    assert explore(build, scheduler="dpor", properties=[]).executions == 3


def test_a_read_without_a_reference_of_its_own_conflicts_with_puts():
    """A reference counts for the task whose own step took it: another task's read
    is ordered against the puts as before."""
    def build():
        frame = Obj("frame")
        ref = Var("ref", 2, counter=True, keeps=frame)

        def reader():                   # relies on a reference it did not take
            yield frame.access()

        def putter():
            yield ref.add(-1, frees=frame)

        return Program([Task(reader, name="reader"), Task(putter, name="putter")])
    assert explore(build, scheduler="dpor", properties=[]).executions == 2


@pytest.mark.parametrize("make, message", [
    (lambda: Var("ref", 1, keeps=Obj("desc", permanent=True)), "keeps= must be an Obj"),
    (lambda: Var("ref", 1, keeps="frame"), "keeps= must be an Obj"),
])
def test_a_bad_keeps_declaration_is_refused(make, message):
    with pytest.raises(ModelError, match=message):
        make()


def test_two_counts_cannot_keep_one_object():
    frame = Obj("frame")
    Var("ref", 1, keeps=frame)
    with pytest.raises(ModelError, match="no other count keeps"):
        Var("ref2", 1, keeps=frame)


def test_a_put_must_free_the_object_its_count_keeps():
    frame, other = Obj("frame"), Obj("other")
    ref = Var("ref", 1, counter=True, keeps=frame)
    with pytest.raises(ModelError, match="keeps frame alive"):
        ref.add(-1, frees=other)


def test_under_a_weak_model_the_reduction_is_off():
    """Under ``ra`` an access orders nothing and the race detector skips what it declares
    by its uids: a footprint on the memory's own uid would order a read against a write
    again (a saved counterexample's race, tests/counterexamples/relaxed-zspage-lock.json,
    was lost so).  So no step has one there; on sc the reader's read has only that."""
    def footprints(memory_model):
        build = _reader_and_putter(keeps=True)

        def b():
            p = build()
            return Program(p.specs, observe=p.observe, memory_model=memory_model)
        seen = []

        class Watch(Monitor):
            name = "watch"

            def on_event(self, world, ev):
                if ev.action.op == A.ACCESS:
                    seen.append(tuple(o for o, *_ in ev.fps or ((ev.obj,),)))
        explore(b, scheduler="dfs", properties=[Watch()])
        return seen
    sc, ra = footprints(None), footprints("ra")
    assert sc and all(len(f) == 1 and f[0][0] == "mem" for f in sc)
    assert ra and not any(type(o) is tuple and o[0] == "mem" for f in ra for o in f)
