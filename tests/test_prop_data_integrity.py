"""``data-integrity``: a load returns the last value stored to the handle (generic programs)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from checker import Program, RwLock, Task, Var, explore, label
from checker.monitor import select

BOTH = pytest.mark.parametrize("scheduler", ["dfs", "dpor"])


def check(build, scheduler, stop=True):
    return explore(build, scheduler=scheduler, properties=["data-integrity"], stop_on_violation=stop)


def client_and_migration(locked):
    """A client writes through its handle and reads it back while migration moves the object.

    Migration copies page0 to page1 and rewrites the handle under pool->lock
    (write).  A client that looks the handle up without the lock (hazard 18)
    can write into the old page after the copy: its store is lost.
    """
    def build():
        page0, page1 = Var("page0", 0), Var("page1", None)
        handle = Var("handle", page0)
        pool = RwLock("pool->lock")

        def client():
            if locked:
                yield pool.acquire(shared=True)
            loc = yield handle.read()
            yield loc.write(5)
            yield label("store", key="h", value=5)
            if locked:
                yield pool.release()
                yield pool.acquire(shared=True)
            loc = yield handle.read()
            v = yield loc.read()
            yield label("load", key="h", value=v)
            if locked:
                yield pool.release()

        def migrate():
            yield pool.acquire()
            v = yield page0.read()
            yield page1.write(v)
            yield handle.write(page1)
            yield pool.release()
        return Program([Task(client, name="client"), Task(migrate, name="zs_page_migrate")])
    return build


@BOTH
def test_lost_store_is_reported(scheduler):
    r = check(client_and_migration(locked=False), scheduler)
    assert len(r.violations) == 1
    v = r.violations[0]
    assert v.message == "client loads 0 from handle 'h', but the last value stored there is 5 (by client)"
    acts = {s.index: (s.task_name, s.action) for s in v.steps}
    # The store's write and the load's read are the steps pointed at.
    assert [acts[i] for i in v.involved] == [("client", "write(page0, 5)"), ("client", "read(page1)")]


@BOTH
def test_handle_lookups_under_the_pool_lock_are_silent(scheduler):
    r = check(client_and_migration(locked=True), scheduler)
    assert r.ok and r.complete and r.executions > 1


@BOTH
def test_labels_count_at_the_access_they_follow(scheduler):
    """A writer and a reader of one slot, unsynchronised: each outcome is a legal history.

    The reader's label may be scheduled after the writer's store label even
    though it read before the write; it is judged at its read.
    """
    def build():
        slot = Var("slot", 0)

        def writer():
            yield slot.write(1)
            yield label("store", key="k", value=1)

        def reader():
            v = yield slot.read()
            yield label("load", key="k", value=v)
        return Program([Task(reader, name="reader"), Task(writer, name="writer")])
    r = check(build, scheduler, stop=False)
    assert r.ok and r.complete and r.executions > 1


@dataclass
class Ctx:
    problems: list = field(default_factory=list)

    def integrity_problems(self):
        return self.problems


@BOTH
def test_model_reports_lost_objects_at_the_end(scheduler):
    def build():
        ctx = Ctx()

        def compaction():
            yield label("__zs_compact")
            ctx.problems.append("handle 3 lost: no slot records it")
        return Program([Task(compaction)], context=ctx)
    r = check(build, scheduler)
    assert [v.message for v in r.violations] == ["handle 3 lost: no slot records it"]
    ok = check(lambda: Program([Task(lambda: (yield label("x")))], context=Ctx()), scheduler)
    assert ok.ok and ok.complete


def test_applies_to_every_program():
    prog = Program([Task(lambda: (yield label("x")))])
    assert "data-integrity" in select(None, prog).names
