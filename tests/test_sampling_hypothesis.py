"""The Hypothesis search (issue 6): it finds a seeded bug in drawn scenarios, shrinks the
scenario and the schedule, returns a Violation whose schedule replays, persists failures
in the example database and replays them first, and is deterministic for a seed."""

from __future__ import annotations

import random

import pytest
from hypothesis import strategies as st
from hypothesis.database import InMemoryExampleDatabase

from checker import ModelError, Monitor, Program, SpinLock, Task, UsageError, Var, explore, label
from checker.hypothesis_search import SearchOutcome, hypothesis_search
from checker.schedulers.replay import Replay


class Total(Monitor):
    """At the end of an execution the counter equals the number of increments."""

    name = "counter-total"

    def on_execution_end(self, world):
        x, want = world.program.context
        if x.value != want:
            world.report(self.name, f"counter is {x.value}, expected {want}")


class Exclusion(Monitor):
    """Checked at every step: no two tasks inside a ``label("enter")`` / ``label("exit")`` pair."""

    name = "exclusion"

    def on_execution_start(self, world):
        self.inside = set()

    def on_event(self, world, event):
        a = event.action
        if a.op == 20 and a.arg == "enter":
            if self.inside:
                world.report(self.name, f"task {event.task} entered while {sorted(self.inside)} inside")
            self.inside.add(event.task)
        elif a.op == 20 and a.arg == "exit":
            self.inside.discard(event.task)


def counter(ops, unlocked, cpus=None):
    """Task i does ``ops[i]`` increments of x; increment (i, j) skips the spinlock if in ``unlocked``."""
    def build():
        x = Var("x", 0)
        lk = SpinLock("lock")

        def task(i):
            def run():
                for j in range(ops[i]):
                    locked = (i, j) not in unlocked
                    if locked:
                        yield lk.acquire()
                    yield label("enter")
                    v = yield x.read()
                    yield x.write(v + 1)
                    yield label("exit")
                    if locked:
                        yield lk.release()
            return run
        tasks = [Task(task(i), f"t{i}") for i in range(len(ops))]
        return Program(tasks, cpus=cpus, context=(x, sum(ops)), observe=lambda: x.value)
    return build


def counters(data):
    """A scenario: 1-4 tasks of 1-3 increments, some unlocked; 1-2 CPUs or one per task.

    One structured draw for the tasks rather than a draw per field: Hypothesis
    shrinks a list by deleting elements, so removing a task keeps the rest aligned.
    """
    flags = data.draw(st.lists(st.lists(st.booleans(), min_size=1, max_size=3), min_size=1, max_size=4),
                      label="unlocked")
    cpus = data.draw(st.sampled_from([None, 1, 2]), label="cpus")
    unlocked = {(i, j) for i, f in enumerate(flags) for j, u in enumerate(f) if u}
    return counter([len(f) for f in flags], unlocked, cpus)


def correct_counters(data):
    n = data.draw(st.integers(1, 3), label="tasks")
    ops = [data.draw(st.integers(1, 2), label=f"increments of t{i}") for i in range(n)]
    return counter(ops, set(), data.draw(st.sampled_from([None, 1]), label="cpus"))


def replayed(build, violation, properties):
    r = explore(build, scheduler=Replay(violation.schedule), properties=properties)
    assert r.violations, "the returned schedule did not reproduce the violation"
    return r.violations[0]


def test_finds_shrinks_and_replays_a_lost_update():
    out = hypothesis_search(counters, max_examples=300, seed=1, properties=[Total()], database=False)
    assert isinstance(out, SearchOutcome)
    v = out.violation
    assert v is not None and v.property == "counter-total"
    assert out.result.violations == [v] and not out.result.complete
    # Shrunk to the smallest scenario with the bug: two tasks, one increment each,
    # at least one of them unlocked.
    drawn = dict(out.scenario)
    assert len(drawn["unlocked"]) == 2
    assert [len(t) for t in drawn["unlocked"]] == [1, 1]
    assert [True] in drawn["unlocked"]
    # ... and a short schedule: two increments (with one lock pair) are at most 10 steps,
    # with the two context switches a lost update needs and no more.
    assert len(v.schedule) <= 10
    assert sum(1 for a, b in zip(v.schedule, v.schedule[1:]) if a[0] != b[0]) == 2
    assert len(v.schedule) == len(v.steps) == v.step + 1
    again = replayed(out.build, v, [Total()])
    assert (again.property, again.message, again.step) == (v.property, v.message, v.step)
    assert again.schedule == v.schedule


def test_every_property_is_checked_at_every_step():
    out = hypothesis_search(counters, max_examples=300, seed=1, properties=[Exclusion()], database=False)
    v = out.violation
    assert v is not None and v.property == "exclusion"
    # The violation is reported at the step that broke exclusion, not at the end.
    assert v.steps[v.step].action == "label(enter)"
    assert v.step == len(v.steps) - 1  # the execution stopped there, mid-increment
    assert replayed(out.build, v, [Exclusion()]).step == v.step


def test_same_seed_same_failure():
    a, b = (hypothesis_search(counters, max_examples=300, seed=4, properties=[Total()], database=False)
            for _ in range(2))
    assert a.violation.schedule == b.violation.schedule
    assert a.scenario == b.scenario
    assert a.examples == b.examples and a.first_failure == b.first_failure


def test_failure_persists_and_is_replayed_first(tmp_path):
    db = tmp_path / "examples"
    first = hypothesis_search(counters, max_examples=300, seed=3, properties=[Total()], database=db)
    assert first.violation is not None and first.first_failure > 1
    assert any(db.iterdir()), "nothing was saved in the example database"
    second = hypothesis_search(counters, max_examples=300, seed=99, properties=[Total()], database=db)
    assert second.first_failure == 1
    assert second.violation.property == "counter-total"
    assert replayed(second.build, second.violation, [Total()]).message == second.violation.message


def test_database_object_and_key():
    db = InMemoryExampleDatabase()
    hypothesis_search(counters, max_examples=300, seed=3, properties=[Total()], database=db, key="a")
    assert hypothesis_search(counters, max_examples=300, seed=3, properties=[Total()], database=db,
                             key="a").first_failure == 1
    # Another key has nothing saved: the search starts from scratch.
    fresh = hypothesis_search(counters, max_examples=300, seed=3, properties=[Total()], database=db,
                              key="b")
    assert fresh.first_failure > 1


def test_no_bug_is_incomplete_not_verified():
    out = hypothesis_search(correct_counters, max_examples=40, seed=0, properties=[Total(), Exclusion()],
                            database=False)
    assert out.violation is None and out.result.ok
    assert not out.result.complete
    assert out.result.reason == f"sampled: {out.examples} Hypothesis examples"
    assert 1 <= out.examples <= 40
    assert out.result.executions == out.examples
    assert out.result.outcomes <= {1, 2, 3, 4, 5, 6} and out.result.outcomes


def test_unshrunk_first_failure():
    out = hypothesis_search(counters, max_examples=300, seed=0, properties=[Total()], database=False,
                            shrink=False)
    # Not shrunk: the first failing example, run once more by Hypothesis to report it.
    assert out.violation is not None and out.examples == out.first_failure + 1
    assert replayed(out.build, out.violation, [Total()]).message == out.violation.message


def test_long_executions_are_pruned_not_hung():
    def livelock(data):
        n = data.draw(st.integers(1, 2), label="tasks")

        def build():
            x = Var("x", 0)

            def spin():
                # Never ends, and is no mere wait (a re-read loop would become
                # one, checker.spinloop): each iteration writes.
                while True:
                    yield x.rmw(lambda v: v + 1)
            return Program([Task(spin, f"s{i}") for i in range(n)])
        return build
    out = hypothesis_search(livelock, max_examples=5, seed=0, properties=[], database=False, max_steps=50)
    assert out.violation is None and out.result.pruned >= 1 and out.result.executions == 0


@pytest.mark.parametrize("kwargs", [
    {"build_for_draw": 42}, {"max_examples": 0}, {"max_steps": -1}, {"seed": "x"},
    {"database": 3}, {"properties": ["no-such-property"]}, {"properties": 5},
])
def test_bad_arguments_are_usage_errors(kwargs):
    args = {"build_for_draw": counters, "database": False, **kwargs}
    with pytest.raises(UsageError) as exc:
        hypothesis_search(**args)
    assert "\n" not in str(exc.value)


def test_draw_function_must_return_a_build():
    with pytest.raises(UsageError, match="must return a build function"):
        hypothesis_search(lambda data: data.draw(st.integers(0, 3)), max_examples=5, database=False)


def test_hidden_randomness_is_a_model_error():
    rng = random.Random(0)

    def flaky(data):
        data.draw(st.integers(0, 3), label="n")
        return counter([1, 1], {(0, 0)} if rng.random() < 0.5 else set())
    with pytest.raises(ModelError, match="hidden state or randomness"):
        hypothesis_search(flaky, max_examples=200, seed=0, properties=[Total()], database=False)
