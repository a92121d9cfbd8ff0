"""``no-free-while-mapped``: no free while mapped, no use after free (generic programs)."""

from __future__ import annotations

import pytest

from checker import Obj, Program, RwLock, Task, Var, explore, label

BOTH = pytest.mark.parametrize("scheduler", ["dfs", "dpor"])


def check(build, scheduler, stop=True):
    return explore(build, scheduler=scheduler, properties=["no-free-while-mapped"],
                   stop_on_violation=stop)


def mapper_and_freer(locked):
    """A reader maps a zspage and reads it; a freer frees it (under the zspage lock or not)."""
    def build():
        zspage = Obj("zspage")
        lock = RwLock("zspage->lock")

        def reader():
            if locked:
                yield lock.acquire(shared=True)
            yield zspage.pin()
            yield zspage.access()
            yield zspage.unpin()
            if locked:
                yield lock.release()

        def freer():
            if locked:
                yield lock.acquire()
            yield zspage.free()
            if locked:
                yield lock.release()
        # The freer runs first in the first explored execution; the bug needs the other order.
        return Program([Task(freer, name="free_zspage"), Task(reader, name="reader")])
    return build


@BOTH
def test_free_while_mapped_and_use_after_free_are_both_found(scheduler):
    r = check(mapper_and_freer(locked=False), scheduler, stop=False)
    assert r.complete
    msgs = {v.message for v in r.violations}
    assert "free_zspage frees zspage while it is mapped by reader" in msgs
    assert "use after free: reader maps zspage, already freed by free_zspage" in msgs
    assert "use after free: reader reads zspage, already freed by free_zspage" in msgs
    v = next(v for v in r.violations if "while it is mapped" in v.message)
    acts = {s.index: (s.task_name, s.action) for s in v.steps}
    assert [acts[i] for i in v.involved] == [("reader", "pin(zspage)"), ("free_zspage", "free(zspage)")]


@BOTH
def test_exclusion_by_the_zspage_lock_is_silent(scheduler):
    # The freer still frees the zspage in some runs before the reader maps it:
    # that is a use after free, so the correct program frees only after the reader.
    def build():
        zspage, done = Obj("zspage"), Var("done", 0)
        lock = RwLock("zspage->lock")

        def reader():
            yield lock.acquire(shared=True)
            yield zspage.pin()
            yield zspage.access(write=True)
            yield zspage.unpin()
            yield lock.release()
            yield done.write(1)

        def freer():
            yield done.spin_until(lambda v: v == 1)
            yield lock.acquire()
            yield zspage.free()
            yield lock.release()
        return Program([Task(freer), Task(reader)])
    r = check(build, scheduler)
    assert r.ok and r.complete


@BOTH
def test_stale_location_after_migration(scheduler):
    """A handle read without pool->lock, then migration frees the old page (hazard 18)."""
    def build(locked):
        old, new = Obj("page0"), Obj("page1", alive=False)
        handle = Var("handle", old)
        pool = RwLock("pool->lock")

        def reader():
            if locked:
                yield pool.acquire(shared=True)
            page = yield handle.read()
            yield page.access()
            if locked:
                yield pool.release()

        def migrate():
            yield pool.acquire()
            yield new.alloc()
            yield old.access()
            yield new.access(write=True)
            yield handle.write(new)
            yield old.free()
            yield pool.release()
        return Program([Task(migrate, name="zs_page_migrate"), Task(reader, name="reader")])
    r = check(lambda: build(False), scheduler)
    assert len(r.violations) == 1
    assert r.violations[0].message == ("use after free: reader reads page0, "
                                       "already freed by zs_page_migrate")
    assert check(lambda: build(True), scheduler).ok


@BOTH
def test_double_free_and_unallocated_use(scheduler):
    def t():
        o, never = Obj("handle"), Obj("zspage", alive=False)
        yield o.free()
        yield o.alloc()
        yield o.access()            # reallocated: fine
        yield o.free()
        yield o.free()
        yield never.access()
    r = check(lambda: Program([Task(t, name="T")]), scheduler, stop=False)
    assert [v.message for v in r.violations] == [
        "double free: T frees handle, already freed by T",
        "use of unallocated memory: T reads zspage, which was never allocated"]
    assert r.violations[0].involved == (3, 4)


# -- memory that lives in a freed object (checker.memory, issue 17 part 1) ----------------

def lock_in_freed_page(op):
    """A page's lock lives in the page: one task drops the last reference, another
    then locks (``op``: acquire, trylock, wait) the page."""
    def build():
        from checker import PageLock
        page = Obj("page")
        ref = Var("page.ref", 1, counter=True)
        lock = PageLock("page.lock", "page lock", owner=page)

        def putter():
            yield ref.add(-1, frees=page)

        def locker():
            if op == "acquire":
                yield lock.acquire()
                yield lock.release()
            elif op == "trylock":
                if (yield lock.try_acquire()):
                    yield lock.release()
            else:
                yield lock.wait_unlocked()

        return Program([Task(putter, name="putter"), Task(locker, name="locker")])
    return build


@BOTH
@pytest.mark.parametrize("op", ["acquire", "trylock", "wait"])
def test_a_lock_operation_on_a_freed_page_is_a_use_after_free(scheduler, op):
    r = check(lock_in_freed_page(op), scheduler)
    assert r.violations
    v = r.violations[0]
    assert v.message.startswith("use after free: locker uses page.lock")
    assert "already freed by putter" in v.message
    assert v.steps[v.step].action.startswith(("acquire", "trylock", "wait"))


@BOTH
def test_a_lock_in_a_live_object_is_fine(scheduler):
    def build():
        from checker import PageLock
        page = Obj("page")
        lock = PageLock("page.lock", owner=page)

        def a():
            yield lock.acquire()
            yield lock.release()

        return Program([Task(a, name="a"), Task(a, name="b")])

    r = check(build, scheduler, stop=False)
    assert r.complete and not r.violations


@BOTH
def test_a_plain_field_of_a_freed_struct_is_a_use_after_free(scheduler):
    from dataclasses import dataclass

    from checker import label, shared_struct

    @shared_struct(owner="obj")
    @dataclass(slots=True, eq=False)
    class Z:
        obj: Obj
        inuse: int = 0

    def build():
        z = Z(Obj("zspage"))

        def freer():
            yield z.obj.free()

        def user():
            yield label("look")
            return z.inuse

        return Program([Task(freer, name="freer"), Task(user, name="user")])

    r = check(build, scheduler)
    assert r.violations
    assert r.violations[0].message == ("use after free: user uses Z.inuse of zspage (in user), "
                                       "already freed by freer")


def test_a_zsmalloc_variant_that_trylocks_a_freed_page_is_reported_at_the_trylock():
    # migrate_pages that forgets "folio was freed from under us" and trylocks the
    # page although the free path dropped every other reference.
    from model.migrate import MIGRATEPAGE_SUCCESS
    from model.scenarios import Scenario, TaskSpec, _client, build_program
    from model.versions import Upstream

    class Careless(Upstream):
        def migrate_pages(self, page):
            newpage = self.alloc_migration_target()
            yield from self.zpdesc_put(page)            # drops the core's reference first
            if (yield from self.zpdesc_trylock(page)):
                yield from self.zpdesc_unlock(page)
            yield from self.zpdesc_put(newpage)
            return None if MIGRATEPAGE_SUCCESS else None

    scen = Scenario("t", "free vs migrate", 2, 2,
                    (_client(ops=("free",)), TaskSpec("migration", "migration", 1, targets=("zs2.p0",))),
                    pool=(("x.b", None), (None, "c0.a")), free_work_pending=False, default=False)
    r = explore(lambda: build_program(Careless, scen, 1, 2), properties=["no-free-while-mapped"])
    assert r.violations
    v = r.violations[0]
    assert "uses zs2.p0.lock" in v.message and v.steps[v.step].action == "trylock(zs2.p0.lock)"


# -- a use after the last put, whichever put is last ----------------------------------------
def _read_after_own_put():
    """t0 puts its reference; t1 puts its own, then reads the object's memory: a use
    after free whatever the order (no reference left), though puts commute, so the
    search runs one order: the free is t1's own put in one, t0's in the other."""
    from dataclasses import dataclass

    from checker import shared_struct

    @shared_struct(owner="owner")
    @dataclass(slots=True, eq=False)
    class Mem:
        owner: Obj
        a: int = 0

    def build():
        obj = Obj("obj")
        ref = Var("ref", 2, counter=True)
        mem = Mem(obj)

        def t0():
            yield ref.add(-1, frees=obj)

        def t1():
            yield ref.add(-1, frees=obj)
            yield label("read")
            _ = mem.a
        return Program([Task(t0, "t0"), Task(t1, "t1")])
    return build


@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_a_use_after_the_last_put_is_found_whichever_put_frees(scheduler):
    r = explore(_read_after_own_put(), scheduler=scheduler, properties=["no-free-while-mapped"])
    assert [v.property for v in r.violations] == ["no-free-while-mapped"]


@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_unchecked_it_makes_every_search_incomplete_alike(scheduler):
    # Not asked for, it is still the race the search's completeness rests on the
    # absence of: in every order of the trace, not only where another task's put frees.
    r = explore(_read_after_own_put(), scheduler=scheduler, properties=[], stop_on_violation=False)
    assert not r.complete and r.races and "use after free" in r.race


def test_dpor_finds_a_use_after_its_own_put_when_the_other_put_came_first():
    import sys
    sys.path.insert(0, __import__("os").path.dirname(__file__))
    from test_engine_differential import make_build
    spec = ("own", ((None, [("put", False), ("dget", 1), ("guarded", "sub")]),
                    (None, [("put", False), ("put", False), ("guarded", "sub")])))
    found = {}
    for sched in ("dfs", "dpor"):
        r = explore(make_build(spec), scheduler=sched, properties=["no-free-while-mapped"],
                    stop_on_violation=False)
        found[sched] = sorted({v.property for v in r.violations})
    assert found["dfs"] == ["no-free-while-mapped"]
    assert found["dpor"] == found["dfs"]
