"""checker.stepper: one execution stepped from outside is explore()'s execution, step for step."""

from __future__ import annotations

import threading

import pytest

from checker import ModelError, Monitor, Program, SpinLock, Task, UsageError, Var, choose, explore, label
from checker.schedulers.replay import Replay
from checker.stepper import Stepper


class Inside(Monitor):
    """At every step: no two tasks between label("enter") and label("exit")."""

    name = "test-inside"

    def on_event(self, world, ev):
        a = ev.action
        if a.name == "label" and a.arg == "enter":
            if getattr(world, "_inside", None):
                world.report(self.name, f"{world.tasks[ev.task].name} entered with another inside")
            world._inside = True
        elif a.name == "label" and a.arg == "exit":
            world._inside = False


def counter(locked=True):
    def build():
        x = Var("x", 0)
        lk = SpinLock("lk")

        def inc():
            if locked:
                yield lk.acquire()
            yield label("enter")
            v = yield x.read()
            yield x.write(v + 1)
            yield label("exit")
            if locked:
                yield lk.release()
        return Program([Task(inc, "a", 0), Task(inc, "b", 1)], observe=lambda: x.value)
    return build


def test_a_stepped_execution_is_explores_and_replays():
    s = Stepper(counter(locked=False), properties=[Inside()])
    assert s.enabled == [0, 1] and not s.ended
    s.step(0)           # a: label(enter)
    s.step(1)           # b: label(enter) -> violation at once
    assert s.ended and s.status == "violation"
    [v] = s.violations
    assert v.property == "test-inside" and v.step == 1 and v.schedule == [(0, None), (1, None)]
    again = explore(counter(locked=False), scheduler=Replay(v.schedule), properties=[Inside()])
    assert [(w.property, w.step) for w in again.violations] == [(v.property, v.step)]


def test_a_complete_execution_and_its_result():
    s = Stepper(counter(), properties=[Inside()])
    while not s.ended:
        s.step(s.enabled[0])
    assert s.status == "complete" and s.violations == [] and s.result.executions == 1
    assert s.result.outcomes == {2} and not s.result.complete   # stepped: never "verified"


def test_the_engine_semantics_hold():
    """A task on a CPU owned by a spinning-lock holder is not enabled; a wrong step is refused."""
    def build():
        lk = SpinLock("lk")

        def t():
            yield lk.acquire()
            yield lk.release()
        return Program([Task(t, "a", 0), Task(t, "b", 0)])
    s = Stepper(build)
    s.step(0)
    assert s.enabled == [0]
    with pytest.raises(UsageError, match="task 1 is not enabled"):
        s.step(1)
    s.close()
    assert s.status == "abandoned"


def test_choices_are_given_and_checked():
    def build():
        def t():
            c = yield choose(["x", "y"])
            yield label(c)
        return Program([Task(t, "a")])
    s = Stepper(build)
    with pytest.raises(UsageError, match="at a choose"):
        s.step(0)
    with pytest.raises(UsageError, match="'z' is not one of"):
        s.step(0, "z")
    s.step(0, "y")
    assert s.world.events[-1].choice == "y"
    s.close()


def test_run_takes_the_policys_steps_on_the_engine_thread():
    s = Stepper(counter(), properties=[])
    seen = []

    def policy(world, enabled):
        seen.append(threading.current_thread().name)
        return (enabled[0], None) if len(world.events) < 5 else None
    s.run(policy)
    assert len(s.world.events) == 5 and s.steps == 5 and not s.ended
    assert set(seen) == {"zsmc-stepper"}
    s.run(lambda w, en: (en[0], None))
    assert s.ended and s.status == "complete"


def test_max_steps_and_errors_reach_the_caller():
    s = Stepper(counter(), properties=[], max_steps=3)
    s.run(lambda w, en: (en[0], None))
    assert s.steps == 3 and not s.ended
    with pytest.raises(UsageError, match="max_steps=3"):
        s.step(s.enabled[0])
    s.close()

    def broken():
        def t():
            yield label("x")
            raise RuntimeError("boom")
        return Program([Task(t, "a")])
    s = Stepper(broken)
    with pytest.raises(ModelError, match="boom"):
        s.step(0)
    assert s.ended and s.status == "error"
    with pytest.raises(UsageError, match="has ended"):
        s.step(0)


def test_a_deadlock_ends_the_execution():
    def build():
        a, b = SpinLock("A"), SpinLock("B")

        def t(x, y):
            def run():
                yield x.acquire()
                yield y.acquire()
                yield y.release()
                yield x.release()
            return run
        return Program([Task(t(a, b), "ab", 0), Task(t(b, a), "ba", 1)])
    with Stepper(build, properties=["deadlock"]) as s:
        s.step(0)
        s.step(1)
        assert s.ended and s.status == "deadlock"
        assert s.violations[0].property == "deadlock"


def test_bad_build_is_a_usage_error():
    with pytest.raises(UsageError):
        Stepper("not a build")


class _InterruptedQueue:
    """A queue whose get() is hit by a Ctrl-C just after it returned the message
    of kind ``lose`` (or just before it takes one, ``early``)."""

    def __init__(self, q, lose=None, early=False):
        self.q, self.lose, self.early = q, lose, early

    def put(self, msg):
        self.q.put(msg)

    def get(self, *args, **kwargs):
        if self.early:
            self.early = False
            raise KeyboardInterrupt
        msg = self.q.get(*args, **kwargs)
        if msg[0] == self.lose:
            self.lose = None
            raise KeyboardInterrupt
        return msg


def _closes_in_time(s):
    done = threading.Event()
    threading.Thread(target=lambda: (s.close(), done.set()), daemon=True).start()
    return done.wait(10)


@pytest.mark.parametrize("lose", ["end", "pick"])
def test_a_ctrl_c_that_eats_the_engines_message_does_not_hang_close(lose):
    # SIGINT lands in the caller's thread, between get() returning and its
    # result being kept: close() must still find the end of the execution.
    s = Stepper(counter(), properties=[Inside()])
    s._to_caller = s._bridge.to_caller = _InterruptedQueue(s._to_caller, lose=lose)
    with pytest.raises(KeyboardInterrupt):
        while not s.ended:
            s.step(s.enabled[0])
    assert _closes_in_time(s) and s.ended
    assert s.status == ("complete" if lose == "end" else "abandoned")
    if lose == "end":
        assert s.result.executions == 1


def test_a_ctrl_c_before_the_engines_answer_is_drained_by_close():
    s = Stepper(counter(), properties=[Inside()])
    s._to_caller = s._bridge.to_caller = _InterruptedQueue(s._to_caller, early=True)
    with pytest.raises(KeyboardInterrupt):
        s.step(s.enabled[0])
    # The engine's "pick" is still queued: close() reads past it to the end.
    assert _closes_in_time(s) and s.ended and s.status == "abandoned"
