"""``no-free-while-mapped``: no free while mapped, no use after free (generic programs)."""

from __future__ import annotations

import pytest

from checker import Obj, Program, RwLock, Task, Var, explore

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
