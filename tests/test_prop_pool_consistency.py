"""``pool-consistency``: lists and counters agree at quiescent points (generic programs).

A toy pool stands in for zsmalloc's: a list of zspages and a counter that
must equal its length whenever no ``class->lock`` is held.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from checker import Program, SpinLock, Task, explore, label
from checker.monitor import select

BOTH = pytest.mark.parametrize("scheduler", ["dfs", "dpor"])


@dataclass
class Pool:
    zspages: list = field(default_factory=list)
    count: int = 0
    consistency_locks: frozenset = frozenset({"class->lock"})
    checks: int = 0

    def consistency_problems(self):
        self.checks += 1
        if self.count != len(self.zspages):
            return [f"class stat says {self.count} zspages, the lists hold {len(self.zspages)}"]
        return []


def program(bug=None, pools=None):
    def build():
        pool = Pool()
        if pools is not None:
            pools.append(pool)
        lock = SpinLock("class->lock")

        def zs_malloc(n):
            def task():
                yield lock.acquire()
                pool.zspages.append(n)
                if bug != "stat after unlock":
                    pool.count += 1
                yield lock.release()
                if bug == "stat after unlock":
                    pool.count += 1      # the stat update escaped the lock
                    yield label("late stat")
            return task

        def lockless():
            yield label("zs_malloc without class->lock")
            pool.zspages.append(9)

        tasks = [Task(zs_malloc(1), name="A"), Task(zs_malloc(2), name="B")]
        if bug == "no lock":
            tasks.append(Task(lockless, name="C"))
        return Program(tasks, context=pool)
    return build


@BOTH
def test_update_outside_the_lock_is_seen_at_the_release(scheduler):
    r = explore(program("stat after unlock"), scheduler=scheduler, properties=["pool-consistency"])
    assert len(r.violations) == 1
    v = r.violations[0]
    assert v.message == ("pool inconsistent after A released class->lock: "
                         "class stat says 0 zspages, the lists hold 1")
    assert v.involved == (v.step,) and v.steps[v.step].action == "release(class->lock)"


@BOTH
def test_update_without_any_lock_is_seen_at_the_end(scheduler):
    r = explore(program("no lock"), scheduler=scheduler, properties=["pool-consistency"])
    assert [v.message for v in r.violations] == [
        "pool inconsistent at the end of the execution: class stat says 2 zspages, the lists hold 3"]


@BOTH
def test_correct_pool_is_silent_and_checked(scheduler, monkeypatch):
    # Every build is counted: the mixed sections' warm-up (random executions
    # before dpor's search, checker/mixed_warmup.py) would build pools too.
    from checker import mixed_warmup
    monkeypatch.setattr(mixed_warmup, "WARM_UP", 0)
    pools = []
    r = explore(program(pools=pools), scheduler=scheduler, properties=["pool-consistency"])
    assert r.ok and r.complete
    # Checked at both quiescent releases and at the end of every execution.
    assert all(p.checks == 3 for p in pools) and len(pools) == r.executions + r.redundant


def test_applies_only_with_a_model_check():
    def body():
        yield label("x")
    assert "pool-consistency" in select(None, Program([Task(body)], context=Pool())).names
    assert "pool-consistency" not in select(None, Program([Task(body)])).names
