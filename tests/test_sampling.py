"""The sampling schedulers ``random`` and ``pct`` (issue 6): determinism, finding seeded
ordering bugs, PCT's depth, honesty about coverage, and the engine's CPU semantics."""

from __future__ import annotations

import importlib.util
from collections import Counter

import pytest

from checker import Monitor, Program, SpinLock, Task, UsageError, Var, choose, cond_resched, explore
from checker.schedulers.pct import PCT
from checker.schedulers.random import RandomScheduler

EXHAUSTIVE = ["dfs"] + (["dpor"] if importlib.util.find_spec("checker.schedulers.dpor") else [])


class Flag(Monitor):
    """Reports the message ``context()`` returns at the end of an execution (None: fine)."""

    name = "seeded-bug"

    def on_execution_end(self, world):
        bad = world.program.context()
        if bad:
            world.report(self.name, bad)


def lost_update():
    """Two unlocked ``x++`` (depth 2: r_a < w_b and r_b < w_a)."""
    def build():
        x = Var("x", 0)

        def inc():
            v = yield x.read()
            yield x.write(v + 1)

        def bad():
            return f"lost update: x = {x.value}" if x.value != 2 else None
        return Program([Task(inc, "a"), Task(inc, "b")], context=bad, observe=lambda: x.value)
    return build


def ordered_reads(noise: int = 0):
    """The reader sees 1 then 2: w1 < r1 < w2 < r2, two preemptions (PCT depth 3).

    ``noise`` independent tasks of three writes each dilute the schedule.
    """
    def build():
        a = Var("a", 0)
        seen = []
        ctx = {"bad": None}

        def writer():
            yield a.write(1)
            yield a.write(2)

        def reader():
            seen.append((yield a.read()))
            seen.append((yield a.read()))
            if seen == [1, 2]:
                ctx["bad"] = "reader saw a = 1 then a = 2"

        def busy(i):
            def run():
                v = Var(f"n{i}", 0)
                for j in range(3):
                    yield v.write(j)
            return run
        tasks = [Task(writer, "writer"), Task(reader, "reader")]
        tasks += [Task(busy(i), f"noise{i}") for i in range(noise)]
        return Program(tasks, context=lambda: ctx["bad"], observe=lambda: tuple(seen))
    return build


def window(n1: int = 12, n2: int = 6, at: int = 6):
    """t2 runs entirely between t1's writes ``at`` and ``at + 1``: one change point for
    PCT, a needle in a haystack for uniform sampling."""
    def build():
        x = Var("x", 0)
        ctx = {"bad": None}

        def t1():
            for i in range(1, n1 + 1):
                yield x.write(i)

        def t2():
            seen = []
            for _ in range(n2):
                seen.append((yield x.read()))
            if all(v == at for v in seen):
                ctx["bad"] = f"t2 ran inside t1's window at x = {at}"
        return Program([Task(t1, "t1"), Task(t2, "t2")], context=lambda: ctx["bad"])
    return build


def samplers(n: int, seed: int):
    return {"random": RandomScheduler(executions=n, seed=seed),
            "pct": PCT(depth=3, executions=n, seed=seed)}


# -- the bugs are real: the exhaustive search agrees ----------------------------

@pytest.mark.parametrize("oracle", EXHAUSTIVE)
@pytest.mark.parametrize("make", [lost_update, ordered_reads, window])
def test_seeded_bugs_exist_exhaustively(oracle, make):
    r = explore(make(), scheduler=oracle, properties=[Flag()])
    assert r.violations and r.violations[0].property == "seeded-bug"


# -- determinism ------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["random", "pct"])
def test_same_seed_same_executions_and_first_violation(kind):
    runs = [explore(ordered_reads(noise=1), scheduler=samplers(5000, 11)[kind], properties=[Flag()])
            for _ in range(2)]
    a, b = runs
    assert a.violations, "the seeded bug was not found"
    assert a.executions == b.executions
    assert a.steps == b.steps
    assert a.violations[0].schedule == b.violations[0].schedule
    assert a.violations[0].message == b.violations[0].message


@pytest.mark.parametrize("kind", ["random", "pct"])
def test_same_seed_same_outcomes_without_stopping(kind):
    runs = [explore(ordered_reads(noise=1), scheduler=samplers(300, 5)[kind], properties=[Flag()],
                    stop_on_violation=False) for _ in range(2)]
    assert runs[0].outcomes == runs[1].outcomes
    assert runs[0].violation_count == runs[1].violation_count > 0
    assert runs[0].steps == runs[1].steps


@pytest.mark.parametrize("kind", ["random", "pct"])
def test_different_seeds_sample_different_schedules(kind):
    firsts = {explore(ordered_reads(noise=2), scheduler=samplers(5000, s)[kind],
                      properties=[Flag()]).executions for s in range(6)}
    assert len(firsts) > 1


# -- finding seeded ordering bugs --------------------------------------------------

@pytest.mark.parametrize("kind", ["random", "pct"])
@pytest.mark.parametrize("make,within", [(lost_update, 50), (lambda: ordered_reads(noise=2), 500)])
def test_finds_seeded_ordering_bug(kind, make, within):
    for seed in range(5):
        r = explore(make(), scheduler=samplers(within, seed)[kind], properties=[Flag()])
        assert r.violations, f"{kind} seed {seed} missed the bug in {within} executions"
        assert r.executions <= within
        assert not r.complete


def test_pct_finds_a_narrow_window_with_one_change_point():
    for seed in range(5):
        r = explore(window(), scheduler=PCT(depth=2, executions=300, seed=seed), properties=[Flag()])
        assert r.violations, f"seed {seed}"


# -- PCT's depth -------------------------------------------------------------------

@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_pct_draws_depth_minus_one_change_points_within_the_estimate(depth):
    sched = PCT(depth=depth, executions=60, seed=3)
    seen = []
    orig_end = sched.end_execution

    def end(world, status):
        seen.append((sched.k, sched.change_points, sched.decisions))
        orig_end(world, status)
    sched.end_execution = end
    r = explore(ordered_reads(noise=2), scheduler=sched, properties=[Flag()], stop_on_violation=False)
    assert r.executions == 60 and len(seen) == 60
    assert seen[0][1] == frozenset()  # the first execution has no estimate of k
    for (k, points, _), (_, _, previous) in zip(seen[1:], seen):
        assert k == previous  # k is the previous execution's decision count
        assert len(points) == min(depth - 1, max(k - 1, 0))
        assert all(1 <= p <= k - 1 for p in points)


def test_pct_depth_bounds_the_bugs_it_can_find():
    # lost update has depth 2, ordered_reads depth 3: a lower depth never finds them.
    assert not explore(lost_update(), PCT(depth=1, executions=300, seed=0), properties=[Flag()]).violations
    assert explore(lost_update(), PCT(depth=2, executions=300, seed=0), properties=[Flag()]).violations
    assert not explore(ordered_reads(), PCT(depth=2, executions=500, seed=0), properties=[Flag()]).violations
    assert explore(ordered_reads(), PCT(depth=3, executions=500, seed=0), properties=[Flag()]).violations


def test_pct_meets_the_papers_probability_bound():
    # Theorem: each execution finds a depth-d bug with probability >= 1 / (n k^(d-1)).
    sched = PCT(depth=3, executions=2000, seed=1)
    r = explore(ordered_reads(), scheduler=sched, properties=[Flag()], stop_on_violation=False)
    n, k = 2, 4  # ordered_reads makes at most 4 decisions
    assert r.violation_count / r.executions >= 1 / (n * k ** 2)


def test_pct_lowers_a_task_that_yields_so_retry_loops_end():
    class StepGuard(Monitor):
        name = "step-guard"

        def on_event(self, world, event):
            if event.index > 1000:
                raise AssertionError("the retry loop livelocked under PCT")

    def build():
        lk = SpinLock("lk")
        x = Var("x", 0)

        def holder():
            yield lk.acquire()
            yield x.write(1)
            yield lk.release()

        def retrier():
            yield x.spin_until(lambda v: v == 1)  # enabled only while the lock is held
            while not (yield lk.try_acquire()):
                yield cond_resched()
            yield lk.release()
        return Program([Task(holder, "holder"), Task(retrier, "retrier")])
    sched = PCT(depth=1, executions=50, seed=0)
    r = explore(build, scheduler=sched, properties=[StepGuard()])
    assert r.executions == 50 and not r.complete
    assert r.steps > 50 * 6  # 6 steps without a retry: some executions retried


# -- uniform choice among enabled steps ----------------------------------------------

def test_random_is_uniform_over_steps_including_choices():
    first = Counter()

    class First(Monitor):
        name = "first-step"

        def on_event(self, world, event):
            if event.index == 0:
                first[(event.task, event.choice)] += 1

    def build():
        def chooser():
            yield choose(["x", "y", "z"])

        def plain():
            yield Var("v", 0).write(1)
        return Program([Task(chooser, "chooser"), Task(plain, "plain")])
    r = explore(build, scheduler=RandomScheduler(executions=4000, seed=2), properties=[First()])
    assert r.executions == 4000
    assert set(first) == {(0, "x"), (0, "y"), (0, "z"), (1, None)}
    for count in first.values():
        assert 850 <= count <= 1150  # 1000 expected each; 4.7 standard deviations


# -- CPU semantics and bounds ---------------------------------------------------------

@pytest.mark.parametrize("kind", ["random", "pct"])
def test_atomic_task_owns_its_cpu(kind):
    class NoStepInsideCriticalSection(Monitor):
        name = "owns-cpu"

        def on_event(self, world, event):
            holder = world.program.context.writer
            if holder is not None and event.task != holder:
                world.report(self.name, f"task {event.task} stepped while {holder} held the spinlock")

    def build():
        lk = SpinLock("lk")
        x = Var("x", 0)

        def locker():
            for _ in range(2):
                yield lk.acquire()
                v = yield x.read()
                yield x.write(v + 1)
                yield lk.release()

        def other():
            for i in range(3):
                yield x.write(10 + i)
        return Program([Task(locker, "locker"), Task(other, "other")], cpus=1, context=lk)
    r = explore(build, scheduler=samplers(400, 0)[kind], properties=[NoStepInsideCriticalSection()])
    assert r.ok and r.executions == 400
    assert r.max_preemptions > 0  # the non-atomic stretches were preempted


@pytest.mark.parametrize("make", [lambda: RandomScheduler(300, seed=4, preemption_bound=0),
                                  lambda: PCT(3, 300, seed=4, preemption_bound=0)])
def test_preemption_bound_is_respected(make):
    def build():
        x = Var("x", 0)

        def inc():
            for _ in range(3):
                v = yield x.read()
                yield x.write(v + 1)
        return Program([Task(inc, "a"), Task(inc, "b"), Task(inc, "c")], cpus=1)
    r = explore(build, scheduler=make(), properties=[], stop_on_violation=False)
    assert r.executions + r.pruned == 300
    assert r.executions > 0 and r.max_preemptions == 0


# -- honesty: sampling is never complete ------------------------------------------------

@pytest.mark.parametrize("kind", ["random", "pct"])
def test_sampled_results_are_never_complete(kind):
    def single():
        def only():
            yield Var("x", 0).write(1)
        return Program([Task(only, "only")])
    r = explore(single, scheduler=samplers(7, 0)[kind], properties=[])
    assert r.executions == 7 and r.ok
    assert r.complete is False
    assert r.reason.startswith(f"sampled: 7 {'random' if kind == 'random' else 'PCT'} executions")
    r = explore(single, scheduler=samplers(7, 0)[kind], properties=[], max_executions=3)
    assert r.complete is False and r.executions == 3


def test_zero_executions_is_incomplete_not_verified():
    r = explore(lost_update(), scheduler=RandomScheduler(executions=0), properties=[Flag()])
    assert r.executions == 0 and not r.complete and r.reason == "sampled: 0 random executions"


@pytest.mark.parametrize("bad", [
    lambda: RandomScheduler(executions=-1), lambda: RandomScheduler(executions="10"),
    lambda: RandomScheduler(seed=1.5), lambda: RandomScheduler(preemption_bound=-2),
    lambda: PCT(depth=0), lambda: PCT(depth=True), lambda: PCT(executions=None),
])
def test_bad_arguments_are_usage_errors(bad):
    with pytest.raises(UsageError) as exc:
        bad()
    assert "\n" not in str(exc.value)
