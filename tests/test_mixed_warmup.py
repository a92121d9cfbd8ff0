"""Learning the mixed sections' lock discipline before the search (checker/mixed_warmup.py).

The warm-up only weakens the learned table with steps of the program, so the
search after it must find what ``dfs`` finds, with or without it; and on a
program whose discipline the cold search learns late, it must spare the
restart (else it would be dead weight)."""

from __future__ import annotations

import pytest

from checker import Program, SpinLock, Task, Var, choose, explore, mixed_warmup, objects
from checker.mixed_warmup import prelearn
from checker.reductions import Declarations


def late_bare_write():
    """CPU 0: a reader of v under g twice, and an idle task; CPU 1: a writer of v
    that takes g in one branch and writes v bare in the other (the branch a
    cold search meets after relying on 'v is protected by g')."""
    def build():
        g = SpinLock("g")
        v = Var("v", 0)
        got = []

        def reads():
            yield g.acquire()
            got.append((yield v.read()))
            got.append((yield v.read()))
            yield g.release()

        def idle():
            yield v.read()

        def other():
            bare = yield choose([False, True])
            if bare:
                yield v.write(5)
            else:
                yield g.acquire()
                yield v.write(7)
                yield g.release()
        return Program([Task(reads, "reads", cpu=0), Task(idle, "idle", cpu=0),
                        Task(other, "other", cpu=1)], cpus=2, observe=lambda: tuple(got))
    return build


def test_the_warm_up_spares_the_restart_and_finds_what_dfs_finds(monkeypatch):
    build = late_bare_write()
    every = explore(build, scheduler="dfs", properties=[], stop_on_violation=False).outcomes
    assert (0, 5) in every                  # the bare write between the two reads
    monkeypatch.setattr(mixed_warmup, "WARM_UP", 0)
    cold = explore(build, properties=[], stop_on_violation=False)
    monkeypatch.setattr(mixed_warmup, "WARM_UP", 100)
    warm = explore(build, properties=[], stop_on_violation=False)
    assert cold.complete and warm.complete
    assert cold.outcomes == warm.outcomes == every
    assert "searched again" in cold.note
    assert "searched again" not in (warm.note or "")
    # The warm-up's random executions are not the search's.
    assert warm.executions == cold.executions


def test_the_warm_up_weakens_the_table_as_the_program_behaves():
    build = late_bare_write()
    d = Declarations()
    with objects.making():
        assert prelearn(build, d, "dpor", executions=40) == 40
        world_uids = {o.name: o.uid for o in _objects(build)}
    held = d.protection.held
    # v's entries for CPU 0's scope: the bare write (random runs take both
    # branches) leaves no lock that protects it.
    entries = [h for (uid, scope, _), h in held.items() if uid == world_uids["v"] and scope == ("c", 0)]
    assert entries and all(not h for h in entries)
    assert not d.protection.used and not d.protection.pending and not d.protection.stale


def _objects(build):
    from checker.explore import _build
    from checker.world import World
    w = World(_build(build))
    seen = []
    for t in w.tasks:
        a = t.pending
        if a is not None and a.obj is not None:
            seen.append(a.obj)
    return seen


@pytest.mark.parametrize("scheduler", ["dfs", "random"])
def test_no_warm_up_for_a_search_without_the_mixed_sections(scheduler):
    assert prelearn(late_bare_write(), Declarations(), scheduler) == 0


def test_no_warm_up_without_a_cpu_shared_among_several():
    def build():
        v = Var("v", 0)

        def w():
            yield v.write(1)
        return Program([Task(w, "a", cpu=0), Task(w, "b", cpu=1)], cpus=2)
    assert prelearn(build, Declarations(), "dpor") == 0
