"""Monitor.export_state / Monitor.merge: a property whose verdict spans executions,
split across subtrees, gives the serial verdict with no engine code of its own."""

from __future__ import annotations

import json

import pytest

from checker import Monitor, Program, SpinLock, Task, Var, choose, explore
from checker.parallel import explore_split, split_choices


class SeenBoth(Monitor):
    """A toy property across executions: the final value of ``x`` differs between
    two executions.  ``seed``: values already seen elsewhere (merge's replays)."""

    name = "toy-seen-both"

    def __init__(self, seed=()):
        self.seed = tuple(seed)

    def on_explore_start(self, program):
        self.seen = {v: None for v in self.seed}      # value -> schedule of its first execution
        self.reported = False

    def on_execution_end(self, world):
        v = world.program.context.value
        if v in self.seen:
            return
        self.seen[v] = [(e.task, e.choice) for e in world.events]
        if len(self.seen) == 2 and not self.reported:
            self.reported = True
            world.report(self.name, f"x ends as {sorted(self.seen)} in different executions")

    def export_state(self):
        return [(v, s) for v, s in self.seen.items() if s is not None]

    def merge(self, states):
        union = []
        for state in states:
            for v, schedule in state:
                if v not in union:
                    union.append(v)
                    if len(union) == 2:
                        yield SeenBoth(seed=union[:1]), schedule


def build():
    """The first choice decides the final value; a second task adds interleavings."""
    x = Var("x", 0)
    lk = SpinLock("lk")

    def setter():
        v = yield choose([1, 2])
        yield lk.acquire()
        yield x.write(v)
        yield lk.release()

    def reader():
        yield lk.acquire()
        yield x.read()
        yield lk.release()
    return Program([Task(setter, "s", cpu=0), Task(reader, "r", cpu=1)], cpus=2, context=x)


def verdict(r):
    return sorted((v.property, v.message) for v in r.violations), r.executions, r.complete


def test_the_toy_needs_two_executions_and_each_subtree_has_one_value():
    serial = explore(build, properties=[SeenBoth], stop_on_violation=False)
    assert [v.message for v in serial.violations] == ["x ends as [1, 2] in different executions"]
    assert len(split_choices(build)) == 2       # one value per subtree: neither sees both alone


@pytest.mark.parametrize("how", [dict(jobs=1), dict(jobs=2), dict(jobs=1, split_depth=2)],
                         ids=["inline", "forked", "cut-by-depth"])
def test_a_split_search_merges_the_toys_state_into_the_serial_verdict(how):
    serial = explore(build, properties=[SeenBoth], stop_on_violation=False)
    b = explore_split(build, properties=[SeenBoth], **how)
    assert verdict(b) == verdict(serial)
    assert b.violations[0].steps                # a replayed execution shows it


def test_the_merged_state_survives_a_checkpoint(tmp_path, monkeypatch):
    serial = explore(build, properties=[SeenBoth], stop_on_violation=False)
    ck = tmp_path / "ck"
    explore_split(build, properties=[SeenBoth], jobs=1, checkpoint=str(ck))
    saved = json.loads(ck.read_text())
    assert all("toy-seen-both" in d["state"] for d in saved["done"].values())
    import checker.parallel as par
    monkeypatch.setattr(par, "run_job", lambda *a, **k: pytest.fail("a finished subtree ran again"))
    resumed = explore_split(build, properties=[SeenBoth], jobs=1, resume=str(ck))
    assert verdict(resumed) == verdict(serial)


def test_the_toy_and_lock_order_merge_side_by_side():
    props = [SeenBoth, "lock-order"]
    serial = explore(build, properties=props, stop_on_violation=False)
    assert verdict(explore_split(build, properties=props, jobs=1, split_depth=1)) == verdict(serial)


def test_the_default_hooks_keep_and_merge_nothing():
    m = Monitor()
    assert m.export_state() is None and list(m.merge([[1], [2]])) == []
    r = explore_split(build, properties=[Monitor], jobs=1, split_depth=1)
    assert r.complete and not r.violations
