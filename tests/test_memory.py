"""Shared memory the engine sees (checker.memory): footprints come from the accesses.

A model's plain Python accesses to shared structs and containers are recorded
in the footprint of the step that makes them, so the search is sound without
any declaration; what cannot be recorded is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from checker import (
    ModelError,
    Obj,
    Program,
    SharedDict,
    SharedList,
    SpinLock,
    Task,
    Var,
    explore,
    label,
    shared_struct,
)


@shared_struct(owner="obj", const=("name",), ghost=("notes",), atomic=("count",))
@dataclass(slots=True, eq=False)
class Node:
    name: str
    obj: Obj
    flag: bool = False
    value: int = 0
    count: int = 0
    items: SharedList = None
    notes: list = None


def node(name="n"):
    return Node(name, Obj(name), items=SharedList(), notes=[])


def run(build, scheduler="dpor", properties=()):
    return explore(build, scheduler=scheduler, properties=list(properties))


# -- footprints from plain accesses ----------------------------------------------------

def test_a_plain_read_after_an_unrelated_action_is_in_that_steps_footprint():
    # The footprint of task B's label step includes its read of n.flag: without
    # it, dpor would see the label as independent and explore one order only.
    def build():
        n = node()
        seen = []

        def a():
            yield label("a")
            n.flag = True

        def b():
            yield label("b")
            seen.append(n.flag)

        return Program([Task(a, "A"), Task(b, "B")], observe=lambda: tuple(seen))

    d = run(build, "dfs")
    r = run(build)
    assert d.outcomes == r.outcomes == {(False,), (True,)}
    assert r.executions == 2


def test_fields_are_separate_locations():
    def build():
        n = node()

        def a():
            yield label("a")
            n.flag = True

        def b():
            yield label("b")
            n.value = 3

        return Program([Task(a, "A"), Task(b, "B")], observe=lambda: (n.flag, n.value))

    r = run(build)
    assert r.complete and r.executions == 1 and r.outcomes == {(True, 3)}


def test_shared_list_contents_are_one_location():
    def build():
        n = node()
        seen = []

        def a():
            yield label("a")
            n.items.append(1)

        def b():
            yield label("b")
            seen.append(len(n.items))

        return Program([Task(a, "A"), Task(b, "B")], observe=lambda: tuple(seen))

    r = run(build)
    assert r.outcomes == {(0,), (1,)} and r.executions == 2


def test_shared_dict_keys_are_separate_but_the_key_set_is_shared():
    def build():
        d = SharedDict({"x": 0, "y": 0}, owner=Obj("page"))
        seen = []

        def a():
            yield label("a")
            d["x"] = 1            # an existing key: only that key

        def b():
            yield label("b")
            d["y"] = 2

        def c():
            yield label("c")
            seen.append(sorted(d.keys()) == ["x", "y"])

        return Program([Task(a, "A"), Task(b, "B"), Task(c, "C")], observe=lambda: tuple(seen))

    r = run(build)
    assert r.complete and r.executions == 1


def test_var_value_read_in_task_code_is_a_read_of_the_var():
    def build():
        v = Var("v", 0)
        seen = []

        def a():
            yield v.write(1)

        def b():
            yield label("b")
            seen.append(v.value)

        return Program([Task(a, "A"), Task(b, "B")], observe=lambda: tuple(seen))

    assert run(build).outcomes == run(build, "dfs").outcomes == {(0,), (1,)}


def test_reading_a_lock_one_does_not_hold_is_a_read_of_the_lock():
    def build():
        lk = SpinLock("l")
        seen = []

        def a():
            yield lk.acquire()
            yield lk.release()

        def b():
            yield label("b")
            seen.append(lk.writer is None)

        return Program([Task(a, "A"), Task(b, "B")], observe=lambda: tuple(seen))

    d, r = run(build, "dfs"), run(build)
    assert d.outcomes == r.outcomes == {(True,), (False,)}


# -- what is refused ----------------------------------------------------------------------

def test_writing_a_var_value_directly_in_task_code_is_refused():
    def build():
        v = Var("v", 0)

        def a():
            yield label("a")
            v.value = 3

        return Program([Task(a, "A")])

    with pytest.raises(ModelError, match=r"writes v.value directly.*yield v.write"):
        run(build)


def test_touching_shared_memory_before_the_first_yield_is_refused():
    def build():
        n = node()

        def a():
            if n.flag:
                yield label("never")
            yield label("a")

        return Program([Task(a, "A")])

    with pytest.raises(ModelError, match=r"task A touches Node.flag in a before its first yield"):
        run(build)


def test_a_const_field_cannot_change_once_visible():
    def build():
        n = node()

        def a():
            yield label("a")
            n.name = "other"

        return Program([Task(a, "A")])

    with pytest.raises(ModelError, match=r"Node.name is constant"):
        run(build)


def test_a_const_field_may_be_set_in_the_step_that_makes_the_struct():
    def build():
        made = []

        def a():
            yield label("a")
            m = node("fresh")
            m.name = "renamed"
            made.append(m.name)

        return Program([Task(a, "A")], observe=lambda: tuple(made))

    assert run(build).outcomes == {("renamed",)}


def test_an_opaque_object_cannot_be_stored_in_shared_memory():
    class Box:
        pass

    def build():
        n = node()

        def a():
            yield label("a")
            n.value = Box()

        return Program([Task(a, "A")])

    with pytest.raises(ModelError, match=r"Node.value: a Box is not memory the engine can see"):
        run(build)


def test_a_plain_list_is_stored_as_a_shared_copy():
    def build():
        n = node()
        seen = []

        def a():
            yield label("a")
            n.items = [1, 2]
            n.items.append(3)
            seen.append(type(n.items).__name__)

        return Program([Task(a, "A")], observe=lambda: (tuple(seen), tuple(n.items)))

    assert run(build).outcomes == {(("SharedList",), (1, 2, 3))}


def test_changing_a_stored_plain_list_through_another_reference_is_refused():
    def build():
        n = node()

        def a():
            yield label("a")
            lst = []
            n.items = lst
            lst.append(1)       # invisible to the engine: refused at the end of the step

        return Program([Task(a, "A")])

    with pytest.raises(ModelError, match=r"stored a plain list in Node.items.*changed it afterwards"):
        run(build)


def test_a_plain_list_inside_a_tuple_is_refused():
    def build():
        n = node()

        def a():
            yield label("a")
            n.value = ("x", [1])

        return Program([Task(a, "A")])

    with pytest.raises(ModelError, match=r"a list inside a tuple"):
        run(build)


def test_ghost_fields_are_not_recorded():
    def build():
        n = node()

        def a():
            yield label("a")
            n.notes.append("a")

        def b():
            yield label("b")
            n.notes.append("b")

        return Program([Task(a, "A"), Task(b, "B")])

    assert run(build).executions == 1


def test_shared_struct_checks_its_declaration():
    with pytest.raises(ModelError, match=r"has no field 'nope'"):
        @shared_struct(owner="obj", const=("nope",))
        @dataclass(slots=True)
        class Bad:
            obj: Obj

    with pytest.raises(ModelError, match=r"must be a @dataclass\(slots=True\)"):
        @shared_struct(owner="obj")
        class NotADataclass:
            obj = None


def test_monitors_and_observe_read_without_recording():
    # Outside task code nothing is recorded, so observe() can read freely.
    n = node()
    n.flag = True
    assert n.flag is True and list(n.items) == []
