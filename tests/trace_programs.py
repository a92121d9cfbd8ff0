"""Small generic programs for the trace, replay, minimiser, render and plugin tests.

They use only the checker API, so these tests do not depend on the zsmalloc
model.  ``load(params)`` is the trace loader (``LOADER``); ``params["program"]``
names one of ``PROGRAMS``.  A test property, ``test-negative-balance``, is
registered on import; it applies only to these programs.
"""

from __future__ import annotations

import random

import checker
import checker.trace
from checker import Monitor, Mutex, Program, SpinLock, Task, Var, choose, cond_resched, label, sleep

LOADER = f"{__name__}:load"
# A trace names no code zsmc would import on its own: the loader is registered here.
checker.trace.register_loader(LOADER)
NEGATIVE = "test-negative-balance"


class NegativeBalance(Monitor):
    """A write of a negative value to a Var named ``balance``."""

    name = NEGATIVE

    def applies(self, program) -> bool:
        return (program.name or "").startswith("trace-test")

    def on_event(self, world, ev):
        a = ev.action
        if a.name == "write" and a.obj.name == "balance" and a.arg < 0:
            world.report(self.name, f"balance went negative: {a.arg}", task=ev.task)


checker.register(NEGATIVE, f"{__name__}:NegativeBalance")


def lost_update(noise: int = 0, same_cpu: bool = True):
    """A and B increment ``x`` without a lock; C checks it.  Needs a preemption on one CPU.

    ``noise`` extra steps of an unrelated task N on CPU 0 (they are sliced away).
    """
    def build():
        x, done, y = Var("x"), Var("done"), Var("y")

        def inc():
            yield label("zs_inc")
            v = yield x.read()
            yield x.write(v + 1)
            yield done.rmw(lambda d: d + 1)

        def check():
            yield label("zs_check")
            yield done.spin_until(lambda d: d == 2)
            v = yield x.read()
            assert v == 2, f"lost update: x = {v}"

        def chatter():
            yield label("zs_noise")
            for i in range(noise):
                yield y.write(i)

        tasks = [Task(inc, "A", 0), Task(inc, "B", 0 if same_cpu else 2), Task(check, "C", 1)]
        if noise:
            tasks.append(Task(chatter, "N", 0))
        return Program(tasks, name="trace-test:lost-update")
    return build


def bank(initial: int = 100, locked: bool = False):
    """Two withdrawals of 60 from ``balance``; without the lock the check races (TOCTOU)."""
    def build():
        balance = Var("balance", initial)
        lk = SpinLock("bank->lock")

        def withdraw():
            yield label("bank_withdraw")
            if locked:
                yield lk.acquire()
            v = yield balance.read()
            if v >= 60:
                w = yield balance.read()
                yield balance.write(w - 60)
            if locked:
                yield lk.release()

        return Program([Task(withdraw, "W1", 0), Task(withdraw, "W2", 0)],
                       name="trace-test:bank")
    return build


def locks():
    """Mutex, spinlock, preempt_disable, sleep, cond_resched and trylock on shared CPUs.

    Exercises every case of the preemption rule: switching away from a task that
    sleeps, yields, waits for a mutex, is atomic, or has finished.  The bug: B
    reads ``x`` under the spinlock only, and can see A's value private to m.
    """
    def build():
        x, y, z = Var("x"), Var("y"), Var("z")
        m = Mutex("pool->mutex")
        s = SpinLock("class->lock")

        def a():
            yield label("zs_compact")
            yield m.acquire()
            yield x.write(1)
            yield sleep()
            yield x.write(2)
            yield m.release()
            yield cond_resched()
            yield s.acquire()
            yield z.write(1)
            yield s.release()

        def b():
            yield label("zs_free")
            yield checker.preempt_disable()
            yield y.write(2)
            yield checker.preempt_enable()
            yield m.acquire()
            yield z.write(2)
            yield m.release()
            yield s.acquire()
            w = yield x.read()
            yield s.release()
            assert w != 1, "zs_free saw x = 1, a value private to zs_compact's critical section"

        def d():
            yield label("zs_page_migrate")
            got = yield m.try_acquire()
            if got:
                yield m.release()

        def r():
            yield label("zs_obj_read_begin")
            yield z.read()
            yield x.read()

        return Program([Task(a, "A", 0), Task(b, "B", 0), Task(d, "D", 1), Task(r, "R", 1)],
                       name="trace-test:locks")
    return build


def choices():
    """Choices whose values are tuples and strings (JSON round trip), then a bug on one path."""
    def build():
        x = Var("x")

        def pick():
            op = yield choose([("free", 1), ("map", 2), "skip"])
            if op == "skip":
                return
            yield x.write(op[1])

        def other():
            n = yield choose([1, 2])
            v = yield x.read()
            assert not (v == 2 and n == 2), f"x = {v} with n = {n}"

        return Program([Task(pick, "P", 0), Task(other, "O", 1)], name="trace-test:choices")
    return build


def scaled(ntasks: int = 4, rounds: int = 4, cpus: int = 2):
    """Many workers mixing spinlocks, a mutex with a sleep, and preempt_disable; C sees a bad total.

    Large traces for the minimiser's time limit (the bug is in every execution).
    """
    def build():
        vs = [Var(f"v{j}") for j in range(3)]
        done = Var("done")
        spins = [SpinLock("s0"), SpinLock("s1")]
        m = Mutex("m")

        def worker(i):
            def run():
                for r in range(rounds):
                    yield label("zs_op")
                    k = (i + r) % 3
                    if r % 3 == 0:
                        yield spins[k % 2].acquire()
                        v = yield vs[k].read()
                        yield vs[k].write(v + 1)
                        yield spins[k % 2].release()
                    elif r % 3 == 1:
                        yield m.acquire()
                        v = yield vs[k].read()
                        yield sleep()
                        yield vs[k].write(v + 1)
                        yield m.release()
                    else:
                        yield checker.preempt_disable()
                        yield vs[k].rmw(lambda x: x + 1)
                        yield checker.preempt_enable()
                        yield cond_resched()
                yield done.rmw(lambda d: d + 1)
            return run

        def check():
            yield done.spin_until(lambda d: d == ntasks)
            total = 0
            for v in vs:
                total += yield v.read()
            assert total < 0, f"total {total}"

        tasks = [Task(worker(i), f"T{i}", i % cpus) for i in range(ntasks)]
        return Program(tasks + [Task(check, "C", cpus)], name="trace-test:scaled")
    return build


def abba(noise: int = 2):
    """Two mutexes taken in opposite orders (a deadlock), with unrelated tasks on the same CPUs."""
    def build():
        m1, m2, y = Mutex("m1"), Mutex("m2"), Var("y")

        def take(first, second):
            def run():
                yield label("zs_lock_two")
                yield first.acquire()
                yield second.acquire()
                yield second.release()
                yield first.release()
            return run

        def chatter():
            yield label("zs_noise")
            for i in range(noise):
                yield y.write(i)

        return Program([Task(take(m1, m2), "T1", 0), Task(take(m2, m1), "T2", 1),
                        Task(chatter, "N", 0)], name="trace-test:abba")
    return build


def two_runs(noise: int = 3):
    """One task takes A then B, or B then A (a choice): lockdep's cycle needs the
    edges of two executions.  An unrelated task on another CPU writes ``y``
    ``noise`` times first, so each run has steps a minimiser slices away."""
    def build():
        a, b, y = SpinLock("A"), SpinLock("B"), Var("y")

        def take():
            order = yield choose(["AB", "BA"])
            first, second = (a, b) if order == "AB" else (b, a)
            yield first.acquire()
            yield second.acquire()
            yield second.release()
            yield first.release()

        def chatter():
            for i in range(noise):
                yield y.write(i)

        return Program([Task(chatter, "N", 1), Task(take, "T", 0)], name="trace-test:two-runs")
    return build


def one_order(order: str = "AB", trylock: bool = False, nested: int = 0, noise: int = 2):
    """One task takes the lock classes named by ``order`` in that order (``"AB"``: A then
    B); ``trylock``: the last one is trylocked; ``nested``: its lockdep subclass.  The
    other order is another program's: a cycle only a graph across programs (the
    scenarios of one check, properties/lockdep_global.py) has."""
    def build():
        locks = {n: SpinLock(n) for n in order}
        y = Var("y")

        def take():
            yield label("zs_take_in_order")
            held = []
            for k, n in enumerate(order):
                last = k == len(order) - 1
                if last and trylock:
                    if (yield locks[n].try_acquire()):
                        held.append(locks[n])
                else:
                    yield locks[n].acquire(nested=nested if last else 0)
                    held.append(locks[n])
            for lk in reversed(held):
                yield lk.release()

        def chatter():
            for i in range(noise):
                yield y.write(i)

        return Program([Task(chatter, "N", 1), Task(take, "T", 0)], name="trace-test:one-order")
    return build


PROGRAMS = {"abba": abba, "lost-update": lost_update, "bank": bank, "locks": locks, "choices": choices,
            "scaled": scaled, "two-runs": two_runs, "one-order": one_order}


def load(params: dict):
    """The trace loader: ``params = {"program": NAME, **arguments}``."""
    params = dict(params)
    name = params.pop("program", None)
    if name not in PROGRAMS:
        raise checker.UsageError(f"unknown test program {name!r}; known: {', '.join(PROGRAMS)}")
    return PROGRAMS[name](**params)


class RandomWalk:
    """A seeded random scheduler (one execution): finds violations with many preemptions."""

    name = "random-walk"

    def __init__(self, seed: int, switchy: float = 0.7):
        self.rng = random.Random(seed)
        self.switchy = switchy
        self.started = False
        self.last = None

    def new_execution(self):
        if self.started:
            return False
        self.started = True
        return True

    def pick(self, world, enabled):
        # Prefer switching task to produce needlessly preemptive schedules.
        others = [t for t in enabled if t != self.last]
        pool = others if others and self.rng.random() < self.switchy else enabled
        t = self.rng.choice(pool)
        self.last = t
        return (t, self.rng.choice(world.choices(t)))

    def end_execution(self, world, status):
        pass


def find_violation(params: dict, prop: str | None, seeds=range(200), most_preemptions=True):
    """Among seeded random walks, the violation of ``prop`` with the most (or fewest) preemptions."""
    build = load(params)
    props = [] if prop in (None, "bug") else [prop]
    best = None
    for seed in seeds:
        res = checker.explore(build, scheduler=RandomWalk(seed), properties=props)
        for v in res.violations:
            if prop is not None and v.property != prop:
                continue
            p = sum(1 for s in v.steps if s.preemption)
            key = p if most_preemptions else -p
            if best is None or key > best[0]:
                best = (key, v)
    return best[1] if best else None


def program(params: dict) -> dict:
    return {"loader": LOADER, "params": dict(params)}
