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


# -- plain accesses: ordered by the actions, or a data race ----------------------------------

def races(r) -> list:
    return [v for v in r.violations if v.property == "data-race"]


def run(build, scheduler="dpor", properties=None):
    return explore(build, scheduler=scheduler, properties=properties)


def two_tasks(a, b, observe=None):
    return Program([Task(a, "A"), Task(b, "B")], observe=observe)


@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_an_unordered_plain_read_and_write_are_a_data_race(scheduler):
    def build():
        n = node()

        def a():
            yield label("a")
            n.flag = True

        def b():
            yield label("b")
            return n.flag

        return two_tasks(a, b)

    r = run(build, scheduler)
    assert races(r) and "data race on Node.flag" in races(r)[0].message


@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_plain_accesses_under_one_lock_are_ordered_and_both_orders_are_explored(scheduler):
    def build():
        n = node()
        lk = SpinLock("l")
        seen = []

        def a():
            yield lk.acquire()
            n.flag = True
            yield lk.release()

        def b():
            yield lk.acquire()
            seen.append(n.flag)
            yield lk.release()

        return two_tasks(a, b, observe=lambda: tuple(seen))

    r = run(build, scheduler)
    assert r.complete and not r.violations and r.outcomes == {(False,), (True,)}


def test_fields_are_separate_locations():
    def build():
        n = node()

        def a():
            yield label("a")
            n.flag = True

        def b():
            yield label("b")
            n.value = 3

        return two_tasks(a, b, observe=lambda: (n.flag, n.value))

    r = run(build)
    assert r.complete and not r.violations and r.outcomes == {(True, 3)}


def test_shared_list_contents_are_one_location():
    def build():
        n = node()

        def a():
            yield label("a")
            n.items.append(1)

        def b():
            yield label("b")
            return len(n.items)

        return two_tasks(a, b)

    assert races(run(build))


def test_shared_dict_keys_are_separate_but_the_key_set_is_shared():
    def build():
        d = SharedDict({"x": 0, "y": 0}, owner=Obj("page"))

        def a():
            yield label("a")
            d["x"] = 1            # an existing key: only that key

        def b():
            yield label("b")
            d["y"] = 2

        def c():
            yield label("c")
            d["z"] = 3            # a new key: the key set too

        def e():
            yield label("e")
            return sorted(d.keys())

        return Program([Task(a, "A"), Task(b, "B")]), Program([Task(c, "C"), Task(e, "E")])

    r = run(lambda: build()[0])
    assert r.complete and not r.violations
    assert races(run(lambda: build()[1]))


def test_var_value_read_in_task_code_is_a_plain_read_of_the_var():
    def build(plain):
        v = Var("v", 0)

        def a():
            yield v.write(1)

        def b():
            if plain:
                yield label("b")
                return v.value
            return (yield v.read())

        return two_tasks(a, b)

    assert races(run(lambda: build(True)))
    r = run(lambda: build(False))
    assert r.complete and not r.violations


def test_reading_a_lock_one_does_not_hold_is_a_plain_read_of_the_lock():
    def build():
        lk = SpinLock("l")

        def a():
            yield lk.acquire()
            yield lk.release()

        def b():
            yield label("b")
            return lk.writer is None

        return two_tasks(a, b)

    assert races(run(build, "dfs")) and races(run(build))


def test_reading_a_lock_one_holds_is_no_race():
    def build():
        lk = SpinLock("l")

        def a():
            yield lk.acquire()
            assert lk.writer is not None
            yield lk.release()

        return two_tasks(a, a)

    r = run(build)
    assert r.complete and not r.violations


def test_an_atomic_field_is_never_a_race():
    def build():
        n = node()

        def a():
            yield label("a")
            n.count += 1

        return two_tasks(a, a, observe=lambda: n.count)

    r = run(build, "dfs")
    assert r.complete and not r.violations and r.outcomes == {2}


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


@dataclass(frozen=True)
class _Head:
    first: object = None


@pytest.mark.parametrize("store", ["frozen", "frozen in a tuple", "proxy"])
def test_a_plain_list_inside_a_frozen_value_is_refused(store):
    # Frozen is the dataclass's own fields (red team round 4: a "frozen struct" holding the
    # list two zs_free calls add to without a lock); a mapping proxy is a view of a dict.
    import types

    def build():
        n = node()

        def a():
            yield label("a")
            lst = [1]
            n.value = {"frozen": lambda: _Head(lst), "frozen in a tuple": lambda: (_Head(_Head(lst)),),
                       "proxy": lambda: types.MappingProxyType({"k": lst})}[store]()

        return Program([Task(a, "A")])

    with pytest.raises(ModelError, match=r"Node.value.* a list inside a tuple or frozen value"):
        run(build)


def test_a_stored_mapping_proxy_is_a_copy_of_its_own():
    import types

    def build():
        n = node()
        seen = []

        def a():
            yield label("a")
            d = {"k": 1}
            n.value = types.MappingProxyType(d)
            d["k"] = 2              # the dict the proxy showed; the stored copy keeps 1
            seen.append(n.value["k"])

        return Program([Task(a, "A")], observe=lambda: tuple(seen))

    assert run(build).outcomes == {(1,)}


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
