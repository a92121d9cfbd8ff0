"""The engine's execution semantics (ARCHITECTURE.md section 2), observed through outcomes.

CPUs and preemption, spinning, sleeping locks, trylocks, choices, the
preemption bound, budgets and determinism.  Unless a test needs the order in
which events were explored (only meaningful for ``dfs``), each runs under both
schedulers: the semantics must not depend on the search.
"""

from __future__ import annotations

import pytest

from checker import (
    Monitor,
    ModelError,
    Mutex,
    Program,
    RwLock,
    SpinLock,
    Task,
    Var,
    choose,
    cond_resched,
    explore,
    label,
    preempt_disable,
    preempt_enable,
    sleep,
)

BOTH = pytest.mark.parametrize("scheduler", ["dfs", "dpor"])


def run(build, scheduler="dfs", **kw):
    kw.setdefault("properties", [])
    return explore(build, scheduler=scheduler, **kw)


# -- one CPU: atomic sections own the CPU ----------------------------------------------

def two_writes_and_a_reader(cpus, atomic):
    """A writes x = 1 then x = 2 (inside ``atomic``: "preempt" or a lock kind); B reads x."""
    def build():
        x = Var("x", 0)
        lk = {"spin": SpinLock, "rw": RwLock, "mutex": Mutex}.get(atomic, SpinLock)("lk")
        seen = []

        def a():
            if atomic == "preempt":
                yield preempt_disable()
            elif atomic is not None:
                yield lk.acquire()
            yield x.write(1)
            yield x.write(2)
            if atomic == "preempt":
                yield preempt_enable()
            elif atomic is not None:
                yield lk.release()

        def b():
            seen.append((yield x.read()))

        return Program([Task(a, cpu=0), Task(b, cpu=0 if cpus == 1 else 1)], cpus=cpus,
                       observe=lambda: tuple(seen))
    return build


@BOTH
@pytest.mark.parametrize("atomic", ["preempt", "spin", "rw"])
def test_on_one_cpu_an_atomic_section_cannot_be_interleaved_with(scheduler, atomic):
    r = run(two_writes_and_a_reader(1, atomic), scheduler)
    assert r.complete and r.deadlocks == 0
    assert r.outcomes == {(0,), (2,)}     # never the intermediate 1


@BOTH
@pytest.mark.parametrize("atomic", ["preempt", "spin", None])
def test_on_two_cpus_an_atomic_section_is_interleaved_with(scheduler, atomic):
    r = run(two_writes_and_a_reader(2, atomic), scheduler)
    assert r.outcomes == {(0,), (1,), (2,)}


@BOTH
def test_on_one_cpu_a_mutex_or_no_lock_section_can_be_preempted(scheduler):
    for atomic in ("mutex", None):
        r = run(two_writes_and_a_reader(1, atomic), scheduler)
        assert r.outcomes == {(0,), (1,), (2,)}, atomic


def spinner_on_flag(cpus):
    """H "holds" flag (sets it, then clears it); S spins for it to clear with preemption disabled."""
    def build():
        flag = Var("flag", 0)
        seen = []

        def holder():
            yield flag.write(1)
            yield flag.write(0)

        def spinner():
            yield preempt_disable()
            seen.append((yield flag.spin_until(lambda v: v == 0)))
            yield preempt_enable()

        return Program([Task(holder, name="H", cpu=0), Task(spinner, name="S", cpu=0 if cpus == 1 else 1)],
                       cpus=cpus, observe=lambda: tuple(seen))
    return build


class DeadlockRecorder(Monitor):
    name = "deadlock-recorder"

    def __init__(self):
        self.blocked = []

    def on_deadlock(self, world, blocked):
        self.blocked.append(blocked)


@BOTH
def test_spinning_with_preemption_disabled_on_a_preempted_holder_is_a_deadlock(scheduler):
    rec = DeadlockRecorder()
    r = run(spinner_on_flag(1), scheduler, properties=[rec])
    assert r.complete
    assert r.deadlocks >= 1
    assert () in r.outcomes          # the deadlocked run: S never got past its spin
    assert (0,) in r.outcomes        # and runs where S spun before H took the flag, or after
    # The report names the spinner, its pending action and the reason.
    blocked = {name: (action, why) for _, name, action, why in rec.blocked[0]}
    assert blocked["S"][0] == "spin_until(flag)"
    assert "preemption disabled" in blocked["S"][1]
    assert blocked["H"][0] == "write(flag, 0)" and "held by atomic task S" in blocked["H"][1]


@BOTH
def test_the_same_spinner_on_two_cpus_does_not_deadlock(scheduler):
    r = run(spinner_on_flag(2), scheduler)
    assert r.complete and r.deadlocks == 0
    assert r.outcomes == {(0,)}


@BOTH
def test_a_preemptible_spinner_on_one_cpu_does_not_deadlock(scheduler):
    # Without preempt_disable the spinner can be switched out and the holder finishes.
    def build():
        flag = Var("flag", 0)

        def holder():
            yield flag.write(1)
            yield flag.write(0)

        def spinner():
            yield flag.spin_until(lambda v: v == 0)

        return Program([Task(holder, cpu=0), Task(spinner, cpu=0)], cpus=1)
    r = run(build, scheduler)
    assert r.complete and r.deadlocks == 0


# -- sleeping locks give up the CPU; spinning locks raise the preempt count -------------

def mutex_waiter(wait):
    """One CPU.  H takes m then schedule()s; W takes a step and then waits (``wait``); O writes y."""
    def build():
        m = Mutex("m")
        flag = Var("flag", 0)
        z = Var("z", 0)
        y = Var("y", 0)
        log = []

        def h():
            yield m.acquire()
            log.append("H acquired")
            yield sleep()
            log.append("H slept")
            yield flag.write(1)
            yield m.release()
            log.append("H released")

        def w():
            yield z.write(1)
            log.append("W ran")
            if wait == "mutex":
                yield m.acquire()
                yield m.release()
            else:
                yield flag.spin_until(lambda v: v == 1)
            log.append("W done")

        def o():
            yield y.write(1)
            log.append("O ran")

        return Program([Task(h, name="H", cpu=0), Task(w, name="W", cpu=0), Task(o, name="O", cpu=0)],
                       cpus=1, observe=lambda: tuple(log))
    return build


def test_a_task_blocked_on_a_held_mutex_gives_up_its_cpu():
    # Without any preemption, O can run right after W blocks on the mutex H holds:
    # switching away from a task that sleeps on a mutex is not a preemption.
    r = run(mutex_waiter("mutex"), "dfs", preemption_bound=0)
    assert r.complete and r.deadlocks == 0 and r.max_preemptions == 0
    assert ("H acquired", "H slept", "W ran", "O ran", "H released", "W done") in r.outcomes


def test_a_preemptible_spinner_keeps_its_cpu_until_preempted():
    # The same with W spinning instead: leaving W for O now costs a preemption,
    # so with no preemption allowed O cannot run while W spins.
    r = run(mutex_waiter("spin"), "dfs", preemption_bound=0)
    assert r.complete
    assert not any(o[:4] == ("H acquired", "H slept", "W ran", "O ran") for o in r.outcomes)
    r1 = run(mutex_waiter("spin"), "dfs", preemption_bound=1)
    assert any(o[:4] == ("H acquired", "H slept", "W ran", "O ran") for o in r1.outcomes)


class PreemptCounts(Monitor):
    """Records the preempt count after every step, per action description."""

    name = "preempt-counts"

    def __init__(self):
        self.seen = set()

    def on_event(self, world, ev):
        self.seen.add((world.tasks[ev.task].name, ev.action.describe(), ev.pc))


@pytest.mark.parametrize("kind,expected", [(SpinLock, 1), (RwLock, 1), (Mutex, 0)])
def test_a_spinning_lock_raises_the_preempt_count(kind, expected):
    def build():
        lk = kind("lk")
        x = Var("x", 0)

        def a():
            yield lk.acquire()
            yield preempt_disable()
            yield x.write(1)
            yield preempt_enable()
            yield lk.release()
        return Program([Task(a, name="A")])
    mon = PreemptCounts()
    run(build, properties=[mon])
    assert mon.seen == {("A", "acquire(lk)", expected), ("A", "preempt_disable()", expected + 1),
                        ("A", "write(x, 1)", expected + 1), ("A", "preempt_enable()", expected),
                        ("A", "release(lk)", 0)}


# -- trylocks, choices ---------------------------------------------------------------

@BOTH
@pytest.mark.parametrize("kind", [SpinLock, Mutex, RwLock])
def test_trylocks_never_wait(scheduler, kind):
    # A takes the lock and never releases it; B's trylock still completes either way,
    # while a plain acquire by B deadlocks whenever A got there first.
    def build(try_it=True):
        lk = kind("lk")
        seen = []

        def a():
            yield lk.acquire()

        def b():
            if try_it:
                ok = yield lk.try_acquire()
                seen.append(ok)
                if ok:
                    yield lk.release()
            else:
                yield lk.acquire()
                seen.append(True)
                yield lk.release()
        return Program([a, b], cpus=None, observe=lambda: tuple(seen))
    r = run(build, scheduler)
    assert r.complete and r.deadlocks == 0
    assert r.outcomes == {(True,), (False,)}
    r2 = run(lambda: build(False), scheduler)
    assert r2.deadlocks == 1 and r2.outcomes == {(True,), ()}


@BOTH
def test_choose_explores_every_option(scheduler):
    def build():
        x = Var("x", 0)
        seen = []

        def a():
            v = yield choose([1, 2, 3])
            w = yield choose("ab")
            seen.append((v, w))
            if v == 3:                      # the choice changes what happens next
                yield x.write(w)
        return Program([a], observe=lambda: (tuple(seen), x.value))
    r = run(build, scheduler)
    assert r.executions == 6
    assert r.outcomes == {(((v, w),), w if v == 3 else 0) for v in (1, 2, 3) for w in "ab"}


# -- the preemption bound --------------------------------------------------------------

def steps_on_one_cpu(n, k):
    def build():
        vs = [Var(f"v{i}", 0) for i in range(n)]
        log = []

        def task(i):
            def run_():
                for s in range(k):
                    yield vs[i].write(s + 1)
                    log.append(i)
            return run_
        return Program([Task(task(i), name=f"T{i}", cpu=0) for i in range(n)], cpus=1,
                       observe=lambda: tuple(log))
    return build


def test_preemption_bound_zero_runs_only_non_preemptive_schedules():
    # Three tasks of two steps on one CPU: only the 3! run-to-completion orders.
    # (dfs only: the count and the observed orders are those of every interleaving.)
    r = run(steps_on_one_cpu(3, 2), "dfs", preemption_bound=0)
    assert r.complete and r.max_preemptions == 0
    assert r.executions == 6
    assert r.outcomes == {(a, a, b, b, c, c) for a, b, c in
                          [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]}


def test_preemption_bound_one_admits_exactly_one_preemption():
    # Two tasks of k steps on one CPU: A^i B^k A^(k-i) and B^j A^k B^(k-j), i.e. 2k schedules;
    # without a bound all C(2k, k).
    k = 3
    r1 = run(steps_on_one_cpu(2, k), "dfs", preemption_bound=1)
    assert r1.complete and r1.executions == 2 * k and r1.max_preemptions == 1
    r = run(steps_on_one_cpu(2, k), "dfs")
    assert r.executions == 20 and r.max_preemptions > 1
    assert r1.outcomes < r.outcomes


def counter_on_one_cpu():
    def build():
        c = Var("c", 0)

        def inc():
            v = yield c.read()
            yield c.write(v + 1)
        return Program([Task(inc, cpu=0), Task(inc, cpu=0)], cpus=1, observe=lambda: c.value)
    return build


@BOTH
def test_preemption_bound_keeps_every_outcome_within_the_bound(scheduler):
    # Two non-atomic increments on one CPU: the lost update needs a preemption.
    r0 = run(counter_on_one_cpu(), scheduler, preemption_bound=0)
    assert r0.complete and r0.max_preemptions == 0 and r0.outcomes == {2}
    r1 = run(counter_on_one_cpu(), scheduler, preemption_bound=1)
    assert r1.complete and r1.outcomes == {1, 2}
    assert r1.preemption_bound == 1


@pytest.mark.parametrize("resched", [True, False])
def test_cond_resched_is_a_switch_point_that_costs_no_preemption(resched):
    def build():
        x = Var("x", 0)
        log = []

        def a():
            yield x.write(1)
            yield cond_resched() if resched else x.write(1)
            log.append("a")
            yield x.write(2)

        def b():
            log.append((yield x.read()))
        return Program([Task(a, cpu=0), Task(b, cpu=0)], cpus=1, observe=lambda: tuple(log))
    # b may run at the cond_resched (seeing 1: "a" is logged when cond_resched
    # returns) without a preemption.
    r = run(build, "dfs", preemption_bound=0)
    assert r.max_preemptions == 0
    if resched:
        assert r.outcomes == {(0, "a"), ("a", 1), ("a", 2)}
    else:       # the same switch without cond_resched is a preemption
        assert r.outcomes == {(0, "a"), ("a", 2)}


# -- budgets and determinism -------------------------------------------------------------

@BOTH
def test_max_executions_makes_the_result_incomplete(scheduler):
    from bench.programs import account
    r = run(account(3), scheduler, max_executions=10)
    assert r.executions == 10
    assert not r.complete and "budget" in r.reason


@BOTH
def test_time_limit_makes_the_result_incomplete(scheduler):
    from bench.programs import lastzero
    r = run(lastzero(12), scheduler, time_limit=0.05)
    assert not r.complete and "time limit" in r.reason
    assert 0 < r.executions


def buggy_counter():
    """Two increments; asserting the count is 2 fails on the lost update (a "bug" violation)."""
    def build():
        c = Var("c", 0)
        done = []

        def inc():
            v = yield c.read()
            yield c.write(v + 1)
            done.append(1)
            if len(done) == 2:
                assert c.value == 2, f"lost update: c = {c.value}"
        return Program([inc, inc], observe=lambda: c.value)
    return build


@BOTH
def test_the_same_call_twice_gives_the_same_exploration(scheduler):
    from bench.programs import lastzero

    def once(build, **kw):
        r = run(build, scheduler, **kw)
        v = r.violations[0] if r.violations else None
        return (r.executions, r.redundant, r.deadlocks, r.outcomes, r.steps,
                v and (v.property, v.message, v.schedule, v.execution))

    assert once(lastzero(3)) == once(lastzero(3))
    first = once(buggy_counter(), properties=None)
    assert first[-1] is not None and first[-1][0] == "bug"
    assert "lost update" in first[-1][1]
    assert first == once(buggy_counter(), properties=None)


@BOTH
def test_an_invisible_step_kept_off_its_cpu_by_a_section_that_never_ends(scheduler):
    """A label has no footprint, so dpor treats it as independent of other
    tasks' sections; but when a section that never ends keeps its task off
    the CPU, running it (and what follows) before that section is another
    outcome: here the one without a deadlock."""
    def build():
        flag = Var("flag", 0)
        got = []

        def spinner():
            yield preempt_disable()
            got.append((yield flag.spin_until(lambda v: v == 1)))
            yield preempt_enable()

        def setter():
            yield label("about to set")
            yield flag.write(1)

        return Program([Task(spinner, name="S", cpu=0), Task(setter, name="T", cpu=0)], cpus=1,
                       observe=lambda: tuple(got))
    r = run(build, scheduler)
    assert r.complete
    assert r.outcomes == {(), (1,)}
    assert r.deadlocks >= 1


def test_a_task_a_stuck_section_keeps_out_is_no_weak_initial():
    """Found by ``python -m bench.fuzz_dpor --seed 50`` (program 67, shrunk): in the
    deadlock where S ran to its end before W's section got stuck, C never runs;
    C's choice, asleep where S's read is reversed with W's write, must not count
    as a weak initial of that reversal (docs/design.md)."""
    def build():
        v, lk = Var("v", 0), RwLock("l")
        logs = {"W": [], "C": [], "S": []}

        def w():
            yield v.write(1)
            yield lk.acquire(shared=True)
            logs["W"].append((yield v.spin_until(lambda x: x % 2 == 0)))
            yield lk.release()

        def c():
            logs["C"].append((yield choose([0, 1])))
            if logs["C"][-1]:
                yield v.write(77)

        def s():
            yield preempt_disable()
            logs["S"].append((yield v.spin_until(lambda x: x % 2 == 0)))
            yield preempt_enable()
            logs["S"].append((yield v.read()))

        return Program([Task(w, name="W", cpu=0), Task(c, name="C", cpu=0), Task(s, name="S", cpu=0)],
                       cpus=1, observe=lambda: tuple(tuple(x) for x in logs.values()))
    missed = run(build, "dfs").outcomes - run(build, "dpor").outcomes
    assert not missed, missed


# -- commuting additions (Var.add) ---------------------------------------------------------

def _puts(n, use=False):
    from checker import Obj

    def build():
        ref, page = Var("ref", n, counter=True), Obj("page")

        def put(i):
            def fn():
                yield ref.add(-1, frees=page)
            return fn

        def user():
            yield page.access()
        tasks = [Task(put(i), f"P{i}", cpu=i) for i in range(n)]
        if use:
            tasks.append(Task(user, "U", cpu=n))
        return Program(tasks, cpus=len(tasks), observe=lambda: (ref.value, page.alive))
    return build


def test_puts_commute_and_the_last_one_frees():
    """n puts of n references: n! orders, one trace, the object always freed."""
    d = explore(_puts(3), scheduler="dfs", properties=[])
    assert d.executions == 6 and d.outcomes == {(0, False)}
    r = explore(_puts(3), scheduler="dpor", properties=[])
    assert r.executions == 1 and r.redundant == 0 and r.outcomes == {(0, False)}


def test_a_put_conflicts_with_a_use_of_what_it_may_free():
    """A use races with each put (either may be the last): dpor finds the use after free."""
    r = explore(_puts(2, use=True), scheduler="dpor", properties=["no-free-while-mapped"],
                stop_on_violation=False)
    assert r.complete
    msgs = {v.message for v in r.violations}
    assert any("use after free: U reads page" in m for m in msgs), msgs
    # The use before both puts, after both, or after just P0 or just P1: the puts
    # commute with each other, not with the use.
    assert r.executions == 4


def test_a_put_below_zero_is_a_bug_and_on_free_runs_at_zero():
    from checker import Bug, Obj
    seen = []

    def build():
        ref, page = Var("ref", 1, counter=True), Obj("page")

        def check():
            seen.append(ref.value)
            raise Bug("Bad page state")

        def fn():
            yield ref.add(-1, frees=page, on_free=check)
            yield ref.add(-1, frees=page)
        return Program([Task(fn, "T")])
    r = explore(build, scheduler="dfs", properties=[], stop_on_violation=False)
    msgs = [v.message for v in r.violations]
    assert any("Bad page state" in m for m in msgs) and any("underflow" in m for m in msgs), msgs
    assert seen == [0]


def test_waiting_on_a_counter_is_explored_without_commuting_its_additions():
    # A wait races with every addition: the search starts again with the
    # additions as plain writes (tests/test_spinloop.py has the differential).
    def build():
        ref = Var("ref", 1, counter=True)

        def waiter():
            yield ref.spin_until(lambda v: v == 0)

        def putter():
            yield ref.add(-1)

        return Program([Task(waiter, "w"), Task(putter, "p")])

    r = explore(build, properties=[])
    assert r.complete and "counter additions not commuted" in r.note
    with pytest.raises(ModelError, match="non-zero integer"):
        Var("x").add(0)


# -- waiting for a lock without taking it (Lock.wait_unlocked) ---------------------------------

def _waiters(n_waiters, holder=True):
    def build():
        lk = Mutex("page")
        got = []

        def hold():
            yield lk.acquire()
            yield lk.release()

        def wait():
            yield lk.wait_unlocked()

        def trylock():
            ok = yield lk.try_acquire()
            got.append(ok)
            if ok:
                yield lk.release()
        fns = ([(hold, "H")] if holder else []) + [(wait, f"W{i}") for i in range(n_waiters)] + \
            [(trylock, "T")]
        tasks = [Task(fn, name, cpu=c) for c, (fn, name) in enumerate(fns)]
        return Program(tasks, cpus=len(tasks), observe=lambda: tuple(got))
    return build


@BOTH
def test_a_waiter_never_makes_a_trylock_fail(scheduler):
    """folio_wait_locked does not take PG_locked: only the holder makes T's trylock fail."""
    r = explore(_waiters(1, holder=False), scheduler=scheduler, properties=[])
    assert r.complete and r.outcomes == {(True,)}
    r = explore(_waiters(1), scheduler=scheduler, properties=[])
    assert r.complete and r.outcomes == {(True,), (False,)} and r.deadlocks == 0


def test_waits_commute_with_each_other():
    d = explore(_waiters(2, holder=False), scheduler="dfs", properties=[])
    r = explore(_waiters(2, holder=False), scheduler="dpor", properties=[])
    assert d.executions == 6 and r.outcomes == d.outcomes
    # The waits commute with each other, not with the trylock's take and release.
    assert r.executions < d.executions and r.redundant == 0


def test_waiting_in_atomic_context_is_sleep_in_atomic_and_a_waiter_can_deadlock():
    def build():
        page, spin = Mutex("page"), SpinLock("S")

        def t0():
            yield page.acquire()
            yield spin.acquire()
            yield spin.release()
            yield page.release()

        def t1():
            yield spin.acquire()
            yield page.wait_unlocked()
            yield spin.release()
        return Program([Task(t0, "T0", cpu=0), Task(t1, "T1", cpu=1)], cpus=2)
    r = explore(build, scheduler="dpor", properties=["sleep-in-atomic", "deadlock"],
                stop_on_violation=False)
    props = {v.property for v in r.violations}
    assert props == {"sleep-in-atomic", "deadlock"}, [v.message for v in r.violations]
    dl = next(v for v in r.violations if v.property == "deadlock")
    assert "wait_unlocked(page)" in dl.message and "held by T0" in dl.message


def test_only_a_program_that_declares_a_guard_looks_for_guarded_sections():
    from checker.explore import _build
    from checker.reductions import SECTIONS, GuardedSections, wrap
    from checker.world import World

    def make(guarded):
        def build():
            g = SpinLock("g")
            v = Var("v", 0, counter=True, guard=g if guarded else None)

            def fn():
                yield g.acquire()
                yield v.add(1)
                yield g.release()
            return Program([Task(fn, "A", cpu=0), Task(fn, "B", cpu=1)], cpus=2)
        return build
    assert isinstance(wrap(World(_build(make(True))), SECTIONS), GuardedSections)
    assert not isinstance(wrap(World(_build(make(False))), SECTIONS), GuardedSections)
    # Either way the two sections' interleavings are all found.
    for guarded in (True, False):
        r = explore(make(guarded), scheduler="dpor", properties=[])
        assert r.complete and r.executions == (1 if guarded else 2)
