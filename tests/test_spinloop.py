"""Spin loops written as re-reads become waits (checker.spinloop), and waits on counters
make the search drop the commuting of their additions (checker.world.CounterWaited)."""

from __future__ import annotations

import pytest

from checker import Program, SpinLock, Task, Var, actions, explore, label


def _forever():
    while True:
        yield None


def waiter_program(loop: str):
    """A waits for B's flag with a re-read loop; B sets it after some work."""
    def build():
        flag = Var("flag", 0)
        seen = []

        def a():
            if loop == "retry":
                while (yield flag.read()) == 0:
                    yield label("cpu_relax")
                seen.append("through")
            elif loop == "while-in-for":
                for _ in range(2):
                    while (yield flag.read()) == 0:
                        yield label("cpu_relax")
                seen.append("through")
            elif loop == "for-over-generator":     # endless: its position is not compared
                for _ in _forever():
                    if (yield flag.read()):
                        break
                seen.append("through")
            else:       # a bounded retry: three attempts, then give up
                for _ in range(3):
                    if (yield flag.read()):
                        seen.append("through")
                        return
                    yield label("cpu_relax")
                seen.append("gave up")

        def b():
            yield label("work")
            yield flag.write(1)

        return Program([Task(a, "A"), Task(b, "B")], observe=lambda: tuple(seen))
    return build


@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_a_read_retry_loop_becomes_a_wait_and_the_search_ends(scheduler):
    r = explore(waiter_program("retry"), scheduler=scheduler, properties=[])
    assert r.complete and r.outcomes == {("through",)}
    assert r.executions < 50        # without the wait: unbounded


@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_a_bounded_retry_is_not_a_spin_loop(scheduler):
    # Its attempt counter changes from one read to the next: the give-up path stays.
    r = explore(waiter_program("bounded"), scheduler=scheduler, properties=[])
    assert r.complete and r.outcomes == {("through",), ("gave up",)}


def test_the_wait_is_visible_as_a_spin_in_the_trace():
    from checker import Monitor

    class Spins(Monitor):
        name = "spins"
        seen = 0

        def on_event(self, world, ev):
            if ev.action.describe().startswith("spin_until(flag"):
                Spins.seen += 1

    r = explore(waiter_program("retry"), scheduler="dfs", properties=[Spins()])
    assert r.complete and Spins.seen > 0


def counter_waiter(how: str):
    def build():
        lk = SpinLock("l")
        cnt = Var("cnt", 1, counter=True)
        seen = []

        def reader():
            yield lk.acquire()
            yield cnt.add(-1)
            yield lk.release()

        def waiter():
            if how == "spin":
                seen.append((yield cnt.spin_until(lambda v: v == 0)))
            else:
                while (yield cnt.read()) != 0:
                    yield label("cpu_relax")
                seen.append(0)

        def other():
            yield cnt.add(1)
            yield cnt.add(-1)

        return Program([Task(reader, "R"), Task(waiter, "W"), Task(other, "O")],
                       observe=lambda: tuple(seen))
    return build


@pytest.mark.parametrize("how", ["spin", "loop"])
def test_waiting_on_a_counter_drops_the_commuting_of_its_additions(how):
    d = explore(counter_waiter(how), scheduler="dfs", properties=[])
    r = explore(counter_waiter(how), scheduler="dpor", properties=[])
    assert d.complete and r.complete and d.outcomes == r.outcomes
    assert "counter additions not commuted" in r.note


class _Attempts:
    __slots__ = ("n",)

    def __init__(self):
        self.n = 0


def hidden_counter_program(how: str):
    """A gives up after two reads; its attempt counter is not a plain local:
    a ``for`` over equal values (the iterator's position, on the frame's
    stack), an iterator in a local, an object with slots."""
    import itertools

    def build():
        flag = Var("flag", 0)
        seen = []

        def attempt():
            return (yield flag.read())

        def a():
            if how == "repeat":
                for _ in itertools.repeat(None, 2):
                    if (yield flag.read()):
                        seen.append("through")
                        return
            elif how == "list":
                for _ in [None] * 2:
                    if (yield from attempt()):
                        seen.append("through")
                        return
            elif how == "iterator":
                tries = iter([None, None])
                while next(tries, "done") is None:
                    if (yield flag.read()):
                        seen.append("through")
                        return
            else:
                tries = _Attempts()
                while tries.n < 2:
                    tries.n += 1
                    if (yield flag.read()):
                        seen.append("through")
                        return
            seen.append("gave up")

        def b():
            yield flag.write(1)

        return Program([Task(a, "A"), Task(b, "B")], observe=lambda: tuple(seen))
    return build


@pytest.mark.parametrize("how", ["repeat", "list", "iterator", "slots"])
@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_a_retry_counted_where_locals_do_not_show_it_is_not_a_spin(how, scheduler):
    # Each of these read the flag twice from the same point with the same
    # visible locals; taken for a spin, the give-up path was lost (A waited
    # for B's write instead of giving up).
    r = explore(hidden_counter_program(how), scheduler=scheduler, properties=[])
    assert r.complete and r.outcomes == {("through",), ("gave up",)}


@pytest.mark.parametrize("how", ["while-in-for", "for-over-generator"])
@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_a_spin_inside_or_as_a_for_loop_is_still_a_wait(how, scheduler):
    r = explore(waiter_program(how), scheduler=scheduler, properties=[])
    assert r.complete and r.outcomes == {("through",)}
    assert r.executions < 50        # without the wait: unbounded


def test_the_snapshot_is_skipped_only_where_the_state_cannot_recur():
    # checker.spinloop.state: a position no loop encloses, or only for loops
    # over iterators whose position moves on, cannot come round unchanged.
    from checker import spinloop

    def straight():
        yield 1
        yield 2

    def counted():
        for _ in range(3):
            yield 1

    def waiting():
        while True:
            yield 1

    def over_generator():
        for _ in _forever():
            yield 1

    def outer(inner):
        for _ in [1, 2]:
            yield from inner()

    def started(fn, *args):
        g = fn(*args)
        next(g)
        return g

    assert spinloop.state(started(straight)) is spinloop._ONCE
    assert spinloop.state(started(counted)) is spinloop._ONCE
    assert spinloop.state(started(outer, straight)) is spinloop._ONCE
    for g in (started(waiting), started(over_generator), started(outer, waiting)):
        state = spinloop.state(g)
        assert state is not spinloop._ONCE and spinloop.same(state, spinloop.snapshot(g))


def test_whether_a_re_read_waits_rests_on_the_tasks_own_steps_only():
    # The value the variable holds when the task's last step ends is no part of that step:
    # had the re-read become a wait only while the value was unchanged, another task's write
    # just before or just after an invisible step would give the task two different next
    # steps (a read, a wait) for orders dpor takes as one.  After two rounds from the same
    # state it waits, whatever the value; changed already, the wait is enabled at once.
    from checker import Monitor

    class Ops(Monitor):
        name = "ops"

        def on_execution_start(self, world):
            self.ops = []

        def on_event(self, world, ev):
            if world.tasks[ev.task].name == "A" and ev.action.op in (actions.READ, actions.SPIN):
                self.ops.append(ev.action.op)

        def on_execution_end(self, world):
            runs.append(tuple(self.ops))

    runs = []
    explore(waiter_program("retry"), scheduler="dfs", properties=[Ops()])
    third = {ops[2] for ops in runs if len(ops) > 2}
    assert third == {actions.SPIN}, third
    assert any(ops[:2] == (actions.READ, actions.READ) for ops in runs)
