"""A put's free check (``Var.add(-1, frees=..., on_free=...)``, the model's free_pages_prepare:
"Bad page state" when a page is freed still movable) reads fields of another object.  Those
reads stand at the put's action, so the race detector does not check them against a declared
write of the field (``yield desc.access(write=True)`` then the write): they must be in the
put's footprint, or dpor takes the put and that write as independent while dfs runs both
orders and finds the Bug.  They were in no footprint until World._add_frees put them there
(found while modelling isolate_movable_page's unlocked test; the model's own writers of those
fields put the page after their own write, in program order, so no scenario met it).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from checker import Bug, Obj, Program, Task, Var, explore, shared_struct


@shared_struct(owner="desc", const=("desc", "frame", "ref"))
@dataclass(slots=True, eq=False)
class _Page:
    desc: Obj
    frame: Obj
    ref: Var
    movable: bool = True


def _build():
    p = _Page(Obj("p.desc", permanent=True), Obj("p.frame"), Var("p.ref", 1, counter=True))

    def clearer():              # __ClearPageMovable, declared
        yield p.desc.access(write=True)
        p.movable = False

    def putter():               # the last put_page: free_pages_prepare's check
        def check():
            if p.movable:
                raise Bug("Bad page state: p freed while movable")
        yield p.ref.add(-1, frees=p.frame, on_free=check)

    return Program([Task(clearer, "clearer", 0), Task(putter, "putter", 1)], cpus=2)


def test_dfs_finds_the_bad_page_state():
    r = explore(_build, scheduler="dfs")
    assert [v.property for v in r.violations] == ["bug"]


def test_dpor_finds_the_bad_page_state_or_says_it_is_incomplete():
    r = explore(_build, scheduler="dpor")
    assert [v.property for v in r.violations] == ["bug"] or not r.complete


# -- a violation reported inside an action belongs to that action's step ------------------
# (red team round 5: the free check of a put, run while the put's step is performed, reported
# "Bad page state" at the step before it; the trace ended before the put, so it never
# replayed ("not reproduced") and the minimiser gave up.  An unbalanced unlock is reported
# inside its release the same way.)

def _one_task(make):
    def build():            # fresh objects for each execution
        return Program([Task(make(), "T", 0)], cpus=1)
    return build


def _bad_free():
    ref, frame = Var("p.ref", 1, counter=True), Obj("p.frame")

    def body():
        yield frame.access()

        def check():
            raise Bug("Bad page state: p freed while movable")
        yield ref.add(-1, frees=frame, on_free=check)
    return body


def _bad_unlock():
    from checker import SpinLock
    lock = SpinLock("l", "l")

    frame = Obj("x", permanent=True)

    def body():
        yield frame.access()
        yield lock.release()
    return body


@pytest.mark.parametrize("make, prop, action", [(_bad_free, "bug", "add(p.ref"),
                                                (_bad_unlock, "lock-balance", "release(l")])
def test_a_violation_inside_an_action_is_that_steps_and_replays(make, prop, action):
    from checker.schedulers.replay import Replay
    build = _one_task(make)
    r = explore(build, scheduler="dfs", stop_on_violation=True)
    v = next(v for v in r.violations if v.property == prop)
    assert v.step == len(v.schedule) - 1 == v.steps[-1].index
    assert v.steps[-1].action.startswith(action), v.steps[-1].action
    replayer = Replay(v.schedule)
    again = explore(build, scheduler=replayer, stop_on_violation=True)
    assert any(w.property == prop and w.step == v.step for w in again.violations)
