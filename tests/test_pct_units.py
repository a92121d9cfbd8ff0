"""PCT's change points counted in unlocks every other execution (issue 14 item 6;
checker/schedulers/pct.py, docs/sampling.md)."""

from __future__ import annotations

import pytest
from test_sampling import Flag

from checker import Mutex, Program, SpinLock, Task, UsageError, Var, explore
from checker.schedulers.pct import PCT


def after_unlock(rounds: int = 6, writes: int = 4, at: int = 2, reads: int = 3, spin: bool = False):
    """``a`` updates ``x`` in ``rounds`` critical sections of ``writes`` writes each;
    the bug is ``b`` running entirely between the end of round ``at`` and the next
    round: a window that opens at an unlock, in an operation of many decisions."""
    def build():
        lock = SpinLock("L") if spin else Mutex("L")
        x = Var("x", 0)
        ctx = {"bad": None}

        def a():
            for r in range(rounds):
                yield lock.acquire()
                for k in range(writes):
                    yield x.write(10 * r + k)
                yield lock.release()

        def b():
            seen = []
            for _ in range(reads):
                seen.append((yield x.read()))
            if seen == [10 * at + writes - 1] * reads:
                ctx["bad"] = f"b ran between rounds {at} and {at + 1}"
        return Program([Task(a, "a", cpu=0), Task(b, "b", cpu=1)], context=lambda: ctx["bad"])
    return build


def hits(units, seeds=range(3), n=400, **kw) -> int:
    found = 0
    for seed in seeds:
        r = explore(after_unlock(**kw), scheduler=PCT(depth=2, executions=n, seed=seed, units=units),
                    properties=[Flag()], stop_on_violation=False, seed=seed)
        found += r.violation_count
    return found


@pytest.mark.parametrize("spin", [False, True])
def test_unlock_points_find_a_window_after_an_unlock_more_often(spin):
    # Decisions: the window is 2 of about 30 decisions; unlocks: 1 of 6, every other execution.
    paper, mixed = hits(("decisions",), spin=spin), hits(("decisions", "unlocks"), spin=spin)
    assert paper > 0
    assert mixed >= 2 * paper, (paper, mixed)


def test_executions_alternate_units_and_draw_points_from_the_previous_count():
    sched = PCT(depth=3, executions=40, seed=2)
    seen = []
    orig_end = sched.end_execution

    def end(world, status):
        seen.append((sched.unit, sched.k, sched.change_points, sched.decisions, sched.unlocks))
        orig_end(world, status)
    sched.end_execution = end
    explore(after_unlock(), scheduler=sched, properties=[Flag()], stop_on_violation=False, seed=2)
    # Once an execution made 2 unlocks (a ran while b was enabled), odd runs count them.
    first = next(i for i, (*_, u) in enumerate(seen) if u >= 2)
    assert [u for u, *_ in seen[first + 1:]] == [("decisions", "unlocks")[i % 2]
                                                  for i in range(first + 1, len(seen))]
    assert all(u == "decisions" for u, *_ in seen[:first + 1])
    for i, (unit, k, points, _, _) in enumerate(seen[1:], 1):
        assert k == (seen[i - 1][3] if unit == "decisions" else max(u for *_, u in seen[:i]))
        assert len(points) == min(2, max(k - 1, 0)) and all(1 <= p <= k - 1 for p in points)
    # a's six releases leave it holding nothing; b takes no lock.
    assert all(u <= 6 for *_, u in seen) and any(u >= 5 for *_, u in seen)


def test_a_change_point_in_unlocks_falls_right_after_an_outermost_unlock():
    class Watch(PCT):
        def _demote(self, t):
            ev = self.world.events[-1]
            ts = self.world.tasks[t]
            if self.unit == "unlocks" and ev.action.name not in ("cond_resched", "sleep"):
                demoted.append((ev.task == t, ev.action.name, bool(ts.held), ts.pc))
            super()._demote(t)

        def pick(self, world, enabled):
            self.world = world
            return super().pick(world, enabled)

    demoted = []
    explore(after_unlock(spin=True), scheduler=Watch(depth=3, executions=60, seed=1), properties=[Flag()],
            stop_on_violation=False, seed=1)
    assert demoted and set(demoted) == {(True, "release", False, 0)}


def test_a_program_without_unlocks_counts_decisions_throughout():
    def build():
        x = Var("x", 0)

        def t():
            for i in range(4):
                yield x.write(i)
        return Program([Task(t, "a"), Task(t, "b")])
    sched = PCT(depth=3, executions=10, seed=0)
    units = []
    orig_end = sched.end_execution

    def end(world, status):
        units.append(sched.unit)
        orig_end(world, status)
    sched.end_execution = end
    explore(build, scheduler=sched, properties=[], stop_on_violation=False)
    assert units == ["decisions"] * 10


@pytest.mark.parametrize("units", [(), ("releases",), "decisions", None])
def test_bad_units_are_a_usage_error(units):
    with pytest.raises(UsageError, match="units"):
        PCT(units=units)
