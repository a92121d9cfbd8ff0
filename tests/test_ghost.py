"""Ghost state (checker.ghost): the engine checks that no task depends on it unordered.

Ghost fields are in no footprint, so a search ordering steps by footprints
says "complete" over orders it never ran if a task reads a ghost value
another task wrote.  The engine records task code's ghost accesses as plain
ones and reports such a read as "ghost-order" (the search incomplete): these
tests make a pass over ghost reads mean what it says, on the shapes one by one
and on random programs against dfs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checker import Bug, ModelError, Obj, Program, SpinLock, Task, explore, label, shared_struct
from checker.ghost import GhostView


@shared_struct(owner="obj", const=("name",), ghost=("notes", "marks", "flag"))
@dataclass(slots=True, eq=False)
class Book:
    name: str
    obj: Obj
    notes: dict = None
    marks: list = None
    flag: int = 0


def book():
    return Book("b", Obj("b"), notes={}, marks=[])


def gap(r) -> bool:
    return not r.complete and "ghost state" in (r.reason or "")


# -- the check catches a kernel function that depends on ghost state ------------------------

@pytest.mark.parametrize("bug_if_seen", [True, False])
@pytest.mark.parametrize("how", ["dict", "list", "scalar"])
def test_a_branch_on_ghost_state_another_task_wrote_is_not_a_complete_pass(how, bug_if_seen):
    """The bug: C's code branches on what A wrote to ghost state.  Neither step's
    footprint shows it, so dpor runs one order; before the check it said "complete,
    no violation" for the polarity whose Bug needs the other order.  dfs runs both
    and meets the Bug."""
    def build():
        b = book()

        def a():
            yield label("a")
            if how == "dict":
                b.notes["go"] = True
            elif how == "list":
                b.marks.append("go")
            else:
                b.flag = 1

        def c():
            yield label("c")
            seen = (b.notes.get("go") if how == "dict" else "go" in b.marks if how == "list"
                    else b.flag)
            if bool(seen) == bug_if_seen:
                raise Bug("c acted on a's note")

        return Program([Task(a, "A"), Task(c, "C")])

    assert explore(build, scheduler="dfs").violations
    r = explore(build)
    assert r.violations or gap(r), r
    assert not (r.complete and not r.violations)
    if not r.violations:
        assert "ghost state Book." in r.reason and "C reads it" in r.reason


def test_a_ghost_read_ordered_by_a_lock_is_checked_and_both_orders_are_run():
    def build():
        b = book()
        lk = SpinLock("l")
        seen = []

        def a():
            yield lk.acquire()
            b.notes["k"] = "a"
            yield lk.release()

        def c():
            yield lk.acquire()
            seen.append(b.notes.get("k"))
            yield lk.release()

        return Program([Task(a, "A"), Task(c, "C")], observe=lambda: tuple(seen))

    r = explore(build)
    assert r.complete and not r.violations and r.outcomes == {(None,), ("a",)}


def test_ghost_additions_commute_with_each_other_and_conflict_with_a_read():
    def adds(read):
        def build():
            b = book()

            def a():
                yield label("a")
                b.marks.append("a")

            def c():
                yield label("c")
                b.marks.append("c")
                if read:
                    return len(b.marks)

            return Program([Task(a, "A"), Task(c, "C")])
        return build

    r = explore(adds(False))
    assert r.complete and r.executions == 1
    assert gap(explore(adds(True)))


def test_dict_keys_are_separate_ghost_locations():
    def build():
        b = book()

        def a():
            yield label("a")
            b.notes["a"] = 1
            return b.notes["a"]     # its own key, its own write

        def c():
            yield label("c")
            b.notes["c"] = 2
            b.notes.discard("c")
            return "a" in b.notes   # another key: no conflict with a's

        return Program([Task(a, "A"), Task(c, "C")])

    # "a" in notes reads key "a", which A writes: that one is a gap.
    r = explore(build)
    assert gap(r) and "Book.notes" in r.reason

    def build_own():
        b = book()

        def a():
            yield label("a")
            b.notes["a"] = 1

        def c():
            yield label("c")
            b.notes["c"] = 2
            return b.notes.pop("c")

        return Program([Task(a, "A"), Task(c, "C")])

    r = explore(build_own)
    assert r.complete and not r.violations and r.executions == 1


def test_ghost_checks_are_not_gaps_for_dfs():
    """dfs orders every step, not footprints: an unordered ghost read is explored
    both ways, and the search stays complete."""
    def build():
        b = book()

        def a():
            yield label("a")
            b.flag = 1

        def c():
            yield label("c")
            return b.flag

        return Program([Task(a, "A"), Task(c, "C")], observe=lambda: b.flag)

    r = explore(build, scheduler="dfs")
    assert r.complete and r.executions == 2


def test_code_before_the_first_yield_is_not_ordered_and_cannot_race():
    def build():
        b = book()

        def a():
            b.notes["a"] = 1            # runs when the World is made, before any step
            yield label("a")

        def c():
            yield label("c")
            if b.notes.get("a") != 1:
                raise Bug("A's set-up write was not seen")

        return Program([Task(a, "A"), Task(c, "C")])

    r = explore(build)
    assert r.complete and not r.violations


@pytest.mark.parametrize("use, what", [
    (lambda m: list(iter(m)), "iteration"),
    (lambda m: m[0], "indexing"),
    (lambda m: m.index("x"), ".index"),
    (lambda m: m == [], "=="),
])
def test_what_would_show_the_order_of_commuting_additions_is_refused_in_one_line(use, what):
    def build():
        b = book()

        def a():
            yield label("a")
            use(b.marks)

        return Program([Task(a, "A")])

    with pytest.raises(ModelError) as exc:
        explore(build)
    msg = str(exc.value)
    assert "Book.marks is ghost state" in msg and what in msg and "\n" not in msg


def test_a_dicts_whole_content_is_refused_in_task_code():
    def build():
        b = book()

        def a():
            yield label("a")
            return len(b.notes)

        return Program([Task(a, "A")])

    with pytest.raises(ModelError, match=r"Book.notes is ghost state .*len\(\)"):
        explore(build)


def test_outside_task_code_a_ghost_field_is_its_plain_value():
    b = book()
    assert type(b.marks) is list and type(b.notes) is dict
    b.marks.append(1)
    assert b.marks == [1]


def test_the_view_keeps_python_semantics():
    seen = {}

    def build():
        b = book()
        b.marks.extend(["x", "y"])
        b.notes.update(k=1)

        def a():
            yield label("a")
            v = b.marks
            assert isinstance(v, GhostView)
            v += ["z"]
            b.marks = v                 # what x.ghost += [...] does: sets the view back
            b.marks.remove("x")
            b.marks.discard("nope")
            seen["in"] = ("z" in b.marks, "x" in b.marks, len(b.marks), bool(b.marks))
            seen["get"] = (b.notes["k"], b.notes.get("q", 7), b.notes.setdefault("s", 2))
            del b.notes["k"]
            seen["after"] = ("k" in b.notes,)
            b.flag += 2

        def observe():
            seen["plain"] = (list(b.marks), dict(b.notes), b.flag)
            return 0

        return Program([Task(a, "A")], observe=observe)

    r = explore(build)
    assert r.complete and not r.violations
    assert seen == {"in": (True, False, 2, True), "get": (1, 7, 2), "after": (False,),
                    "plain": (["y", "z"], {"s": 2}, 2)}


def test_the_model_s_old_ghost_idiom_keeps_working():
    """``if zspage in cls.ghost_zspages: cls.ghost_zspages.remove(zspage)``, as
    ``__free_zspage`` had it (a user's variant copied from it): a membership read
    and a write, both under class->lock, ordered with allocation's append."""
    from model.pool import ZS_INUSE_RATIO_0, ZS_OBJS_ALLOCATED
    from model.scenarios import SCENARIOS, build_program
    from model.versions import Upstream

    class OldIdiom(Upstream):
        def _free_zspage(self, cls, zspage):
            if cls.lock.writer is None:
                raise Bug("__free_zspage: assert_spin_locked(&class->lock)")
            yield zspage.obj.access()
            assert not zspage.inuse and zspage.fullness == ZS_INUSE_RATIO_0
            page = zspage.first
            while page is not None:
                yield page.chain.access()
                nxt = page.next
                yield from self.reset_zpdesc(page)
                yield from self.zpdesc_unlock(page)
                yield from self.zpdesc_put(page)
                page = nxt
            yield from self.cache_free_zspage(zspage)
            yield from self.class_stat_sub(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
            if zspage in cls.ghost_zspages:
                cls.ghost_zspages.remove(zspage)
            self.pool.pages_allocated -= cls.pages_per_zspage

    scen = SCENARIOS
    for name in ("malloc-free", "free-deferred"):
        for cpus in (1, 2):
            new = explore(lambda: build_program(OldIdiom, scen[name], 1, cpus))
            old = explore(lambda: build_program(Upstream, scen[name], 1, cpus))
            assert new.complete and not new.violations, (name, cpus, new.reason)
            assert new.executions == old.executions


# -- random programs: a complete dpor pass over ghost accesses agrees with dfs ---------------

_OPS = st.tuples(st.sampled_from(["set", "get", "add", "has", "scalar-set", "scalar-get"]),
                 st.sampled_from(["k0", "k1"]), st.booleans())


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.lists(st.lists(_OPS, min_size=1, max_size=2), min_size=2, max_size=3))
def test_a_complete_search_over_ghost_accesses_agrees_with_dfs(tasks):
    """Each op is a ghost access, locked (under one spinlock) or not; what a task
    reads decides whether it takes the lock once more (a branch on ghost state).
    dpor either agrees with dfs on outcomes or says it is incomplete."""
    def build():
        b = book()
        lk = SpinLock("l")
        seen = [[] for _ in tasks]

        def body(i, ops):
            def run():
                for op, key, locked in ops:
                    yield lk.acquire() if locked else label(op)
                    if op == "set":
                        b.notes[key] = i
                    elif op == "get":
                        seen[i].append(b.notes.get(key))
                    elif op == "add":
                        b.marks.append(key)
                    elif op == "has":
                        seen[i].append(key in b.marks)
                    elif op == "scalar-set":
                        b.flag = i + 1
                    else:
                        seen[i].append(b.flag)
                    if locked:
                        yield lk.release()
                    if seen[i] and seen[i][-1] not in (None, False, 0):
                        yield lk.acquire()      # the branch
                        yield lk.release()
            return run

        return Program([Task(body(i, ops), f"T{i}") for i, ops in enumerate(tasks)],
                       observe=lambda: tuple(tuple(s) for s in seen))

    ref = explore(build, scheduler="dfs")
    assert ref.complete
    r = explore(build)
    if r.complete:
        assert r.outcomes == ref.outcomes
    else:
        assert gap(r)


def test_peek_reads_a_ghost_field_unrecorded_for_scaffolding():
    from checker.containers import peek

    def build():
        b = book()
        b.marks.extend(["x", "y"])

        def a():
            yield label("a")
            assert peek(b.marks) == ["x", "y"]

        def c():
            yield label("c")
            b.marks.append("z")

        return Program([Task(a, "A"), Task(c, "C")])

    r = explore(build)
    assert r.complete and not r.violations and r.executions == 1
