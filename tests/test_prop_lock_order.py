"""``lock-order``: lockdep's rules over the union of all explored executions.

Generic programs only; each runs under both schedulers (the verdict must not
depend on the search).  The rwlock cases are those of
Documentation/locking/lockdep-design.rst ("Recursive read locks") and of the
lockdep selftests that came with it (lib/locking-selftest.c, 2020).
"""

from __future__ import annotations

import pytest

from checker import (LockMap, Mutex, PageLock, Program, RwLock, RwSemaphore, SpinLock, Task, Var,
                     choose, explore)

BOTH = pytest.mark.parametrize("scheduler", ["dfs", "dpor"])


class RecursiveRwLock(RwLock):
    """An rwlock_t whose read side lockdep treats as recursive (interrupt context)."""

    __slots__ = ()
    recursive_read = True


def check(build, scheduler, stop=True):
    return explore(build, scheduler=scheduler, properties=["lock-order"], stop_on_violation=stop)


def sequential(*bodies, locks):
    """Tasks that run one after the other: task k spins until task k-1 has finished.

    ``bodies`` are lists of ("acq"/"read"/"try"/"rel", name[, nested]) steps.
    """
    def build():
        lk = {name: factory(name) for name, factory in locks.items()}
        turn = Var("turn", 0)

        def make(k, body):
            def task():
                if k:
                    yield turn.spin_until(lambda v, k=k: v == k)
                for step in body:
                    op, name = step[0], step[1]
                    if op == "acq":
                        yield lk[name].acquire(nested=step[2] if len(step) > 2 else 0)
                    elif op == "read":
                        yield lk[name].acquire(shared=True)
                    elif op == "try":
                        ok = yield lk[name].try_acquire(shared=len(step) > 2 and step[2] == "read")
                        assert ok
                    else:
                        yield lk[name].release()
                yield turn.write(k + 1)
            return task

        return Program([Task(make(k, b), name=f"T{k}") for k, b in enumerate(bodies)])
    return build


def abba(kind_a, kind_b):
    return sequential([("acq", "A"), ("acq", "B"), ("rel", "B"), ("rel", "A")],
                      [("acq", "B"), ("acq", "A"), ("rel", "A"), ("rel", "B")],
                      locks={"A": kind_a, "B": kind_b})


# -- plain ABBA ------------------------------------------------------------------------

@BOTH
@pytest.mark.parametrize("kind", [SpinLock, Mutex, RwSemaphore, LockMap])
def test_abba_that_never_overlaps_is_reported_with_both_chains(scheduler, kind):
    r = check(abba(kind, kind), scheduler)
    assert len(r.violations) == 1
    v = r.violations[0]
    assert v.property == "lock-order" and v.task == "T1"
    assert "circular locking dependency" in v.message
    assert "B -> A -> B" in v.message
    # Both acquisition chains, each with the steps that took the locks.
    mode = " (write)" if kind.rw else ""
    assert f"#0 B -(EN)-> A: T1 took B{mode} at step" in v.message
    assert f"#1 A -(EN)-> B: T0 took A{mode} at step 0, then acquire(B) (this execution)" in v.message
    # The steps: T0 takes A at step 0 and B at 1; T1 (after its spin) takes B.
    steps = {s.index: s for s in v.steps}
    assert 0 in v.involved and steps[0].action == "acquire(A)"
    assert v.involved[-1] == v.step and steps[v.step].action == "acquire(B)"
    assert steps[v.step].task_name == "T1"
    # No execution deadlocked: the tasks never overlap.
    assert r.deadlocks == 0


@BOTH
def test_consistent_order_is_silent_and_complete(scheduler):
    both_ab = [("acq", "A"), ("acq", "B"), ("rel", "B"), ("rel", "A")]
    r = check(sequential(both_ab, both_ab, locks={"A": SpinLock, "B": Mutex}), scheduler)
    assert r.ok and r.complete


def concurrent_abba():
    a, b = SpinLock("A"), SpinLock("B")

    def t0():
        yield a.acquire(); yield b.acquire(); yield b.release(); yield a.release()

    def t1():
        yield b.acquire(); yield a.acquire(); yield a.release(); yield b.release()
    return Program([Task(t0), Task(t1)])


@BOTH
def test_concurrent_abba_is_reported_before_any_deadlock_is_explored(scheduler):
    r = check(concurrent_abba, scheduler)
    assert [v.property for v in r.violations] == ["lock-order"]
    assert r.deadlocks == 0       # found in the first execution, which does not deadlock


@BOTH
def test_cycle_closed_across_executions_names_the_earlier_run(scheduler):
    """One task whose lock order depends on a choice: no single execution has both orders."""
    def build():
        a, b = SpinLock("A"), SpinLock("B")

        def t():
            first = yield choose(["A", "B"])
            x, y = (a, b) if first == "A" else (b, a)
            yield x.acquire(); yield y.acquire(); yield y.release(); yield x.release()
        return Program([Task(t, name="T")])
    r = check(build, scheduler)
    assert len(r.violations) == 1
    v = r.violations[0]
    assert "(run 1)" in v.message and "(this execution)" in v.message
    # Only this execution's steps are pointed at: T's choice, B then A.
    assert [s.action for s in v.steps] == ["choose(['A', 'B'])", "acquire(B)"]
    assert v.involved == (1,)


@BOTH
def test_three_class_cycle(scheduler):
    r = check(sequential([("acq", "A"), ("acq", "B"), ("rel", "B"), ("rel", "A")],
                         [("acq", "B"), ("acq", "C"), ("rel", "C"), ("rel", "B")],
                         [("acq", "C"), ("acq", "A"), ("rel", "A"), ("rel", "C")],
                         locks={"A": SpinLock, "B": SpinLock, "C": Mutex}), scheduler)
    assert len(r.violations) == 1
    msg = r.violations[0].message
    assert "C -> A -> B -> C" in msg
    assert msg.count("\n  #") == 3 and r.violations[0].task == "T2"


def test_without_stop_each_cycle_is_reported_once():
    r = check(concurrent_abba, "dfs", stop=False)
    assert r.complete and r.executions > 1
    assert len(r.violations) == 1 and r.violation_count == 1


def test_graph_is_kept_across_executions_and_reset_per_exploration():
    from properties.lock_order import LockOrder
    mon = LockOrder()
    both_ab = [("acq", "A"), ("acq", "B"), ("rel", "B"), ("rel", "A")]
    r = explore(sequential(both_ab, locks={"A": SpinLock, "B": SpinLock}), scheduler="dfs",
                properties=[mon])
    assert r.ok and mon.runs == r.executions == 1
    edge = mon.graph.first[(("A", 0), ("B", 0), 1)]
    assert (edge.task, edge.held_step, edge.after_step, edge.kind) == ("T0", 0, 0, "EN")
    assert edge.schedule == ((0, None),)
    r = explore(sequential([("acq", "B"), ("acq", "A"), ("rel", "A"), ("rel", "B")],
                           locks={"A": SpinLock, "B": SpinLock}), scheduler="dfs", properties=[mon])
    assert r.ok      # a new exploration starts from an empty graph


# -- classes, subclasses, recursion --------------------------------------------------------

@BOTH
def test_classes_not_instances(scheduler):
    """Two zspages' locks are one class: the inversion across instances is reported."""
    r = check(sequential([("acq", "a1"), ("acq", "b1"), ("rel", "b1"), ("rel", "a1")],
                         [("acq", "b2"), ("acq", "a2"), ("rel", "a2"), ("rel", "b2")],
                         locks={"a1": lambda n: SpinLock(n, cls="A"),
                                "a2": lambda n: SpinLock(n, cls="A"),
                                "b1": lambda n: SpinLock(n, cls="B"),
                                "b2": lambda n: SpinLock(n, cls="B")}), scheduler)
    assert len(r.violations) == 1 and "B -> A -> B" in r.violations[0].message


@BOTH
def test_same_class_twice_is_recursive_locking(scheduler):
    r = check(sequential([("acq", "z1"), ("acq", "z2"), ("rel", "z2"), ("rel", "z1")],
                         locks={"z1": lambda n: SpinLock(n, cls="zspage"),
                                "z2": lambda n: SpinLock(n, cls="zspage")}), scheduler)
    assert len(r.violations) == 1
    v = r.violations[0]
    assert v.message.startswith("possible recursive locking detected: T0 takes spinlock_t z2")
    assert "same lock class zspage" in v.message and "nested=N" in v.message
    assert v.involved == (0,)


@BOTH
def test_nested_subclass_is_allowed_and_is_a_class_of_its_own(scheduler):
    nested = [("acq", "z1"), ("acq", "z2", 1), ("rel", "z2"), ("rel", "z1")]
    locks = {"z1": lambda n: SpinLock(n, cls="zspage"), "z2": lambda n: SpinLock(n, cls="zspage")}
    assert check(sequential(nested, nested, locks=locks), scheduler).ok
    # ... but zspage/1 -> zspage against zspage -> zspage/1 is an inversion.
    inverted = [("acq", "z2", 1), ("acq", "z1"), ("rel", "z1"), ("rel", "z2")]
    r = check(sequential(nested, inverted, locks=locks), scheduler)
    assert len(r.violations) == 1 and "zspage/1 -> zspage -> zspage/1" in r.violations[0].message


# -- trylocks ----------------------------------------------------------------------------

@BOTH
def test_trylock_adds_no_edge_into_the_trylocked_lock(scheduler):
    r = check(sequential([("acq", "A"), ("try", "B"), ("rel", "B"), ("rel", "A")],
                         [("acq", "B"), ("acq", "A"), ("rel", "A"), ("rel", "B")],
                         locks={"A": SpinLock, "B": SpinLock}), scheduler)
    assert r.ok and r.complete


@BOTH
def test_held_trylock_gives_edges_to_later_blocking_acquisitions(scheduler):
    """T0 holds A, trylocks B, then takes C: edges B -> C and, past the trylock, A -> C."""
    body0 = [("acq", "A"), ("try", "B"), ("acq", "C"), ("rel", "C"), ("rel", "B"), ("rel", "A")]
    locks = {"A": SpinLock, "B": SpinLock, "C": SpinLock}
    r = check(sequential(body0, [("acq", "C"), ("acq", "B"), ("rel", "B"), ("rel", "C")],
                         locks=locks), scheduler)
    assert len(r.violations) == 1 and "C -> B -> C" in r.violations[0].message
    assert "B (trylock)" in r.violations[0].message
    r = check(sequential(body0, [("acq", "C"), ("acq", "A"), ("rel", "A"), ("rel", "C")],
                         locks=locks), scheduler)
    assert len(r.violations) == 1 and "C -> A -> C" in r.violations[0].message


@BOTH
def test_trylock_of_a_held_class_is_not_recursive_locking(scheduler):
    r = check(sequential([("acq", "p1"), ("try", "p2"), ("rel", "p2"), ("rel", "p1")],
                         locks={"p1": lambda n: SpinLock(n, cls="P"),
                                "p2": lambda n: SpinLock(n, cls="P")}), scheduler)
    assert r.ok


@BOTH
def test_page_locks_are_invisible(scheduler):
    r = check(abba(PageLock, PageLock), scheduler)
    assert r.ok and r.complete


# -- read/write locks (lockdep-design.rst, "Recursive read locks") -------------------------

@BOTH
@pytest.mark.parametrize("kind", [RwLock, RwSemaphore, LockMap, RecursiveRwLock])
def test_read_x_write_y_against_read_y_write_x_is_a_deadlock(scheduler, kind):
    """TASK A: read_lock(X); write_lock(Y).  TASK B: read_lock(Y); write_lock(X).

    A deadlock whether the reads are recursive or not: X -(SN)-> Y -(SN)-> X.
    """
    r = check(sequential([("read", "X"), ("acq", "Y"), ("rel", "Y"), ("rel", "X")],
                         [("read", "Y"), ("acq", "X"), ("rel", "X"), ("rel", "Y")],
                         locks={"X": kind, "Y": kind}), scheduler)
    assert len(r.violations) == 1
    assert "Y -> X -> Y" in r.violations[0].message and "-(SN)->" in r.violations[0].message


@BOTH
def test_read_x_write_y_against_read_y_write_x_deadlocks_when_overlapping(scheduler):
    """The same pair interleaved really deadlocks (the engine's rwlock has no writer bias)."""
    def build():
        x, y = RwLock("X"), RwLock("Y")

        def a():
            yield x.acquire(shared=True); yield y.acquire(); yield y.release(); yield x.release()

        def b():
            yield y.acquire(shared=True); yield x.acquire(); yield x.release(); yield y.release()
        return Program([Task(a), Task(b)])
    r = explore(build, scheduler=scheduler, properties=["deadlock"], stop_on_violation=False)
    assert r.deadlocks >= 1 and r.violations[0].property == "deadlock"


WRITE_A_READ_B = [("acq", "A"), ("read", "B"), ("rel", "B"), ("rel", "A")]
READ_B_WRITE_A = [("read", "B"), ("acq", "A"), ("rel", "A"), ("rel", "B")]


@BOTH
def test_recursive_reader_is_safe(scheduler):
    """write_lock(A); read_lock(B) against read_lock(B); write_lock(A), B read recursively.

    A -(ER)-> B -(SN)-> A is not strong: nobody holds B exclusively, so nobody
    waits for B (the example of lockdep's "__bfs() to work with multiple types
    of dependencies" commit).
    """
    r = check(sequential(WRITE_A_READ_B, READ_B_WRITE_A,
                         locks={"A": RecursiveRwLock, "B": RecursiveRwLock}), scheduler)
    assert r.ok and r.complete


@BOTH
@pytest.mark.parametrize("kind", [RwLock, RwSemaphore, LockMap])
def test_process_context_reader_is_not_recursive(scheduler, kind):
    """The same program with read_lock in process context (a queued rwlock), down_read, or a
    lockdep_map read: non-recursive readers, A -(EN)-> B -(SN)-> A is strong."""
    r = check(sequential(WRITE_A_READ_B, READ_B_WRITE_A, locks={"A": kind, "B": kind}), scheduler)
    assert len(r.violations) == 1 and "-(EN)->" in r.violations[0].message


@BOTH
def test_recursive_read_of_a_held_read_lock(scheduler):
    twice = [("read", "X"), ("read", "X"), ("rel", "X"), ("rel", "X")]
    assert check(sequential(twice, locks={"X": RecursiveRwLock}), scheduler).ok
    r = check(sequential(twice, locks={"X": RwLock}), scheduler)
    assert len(r.violations) == 1
    assert "takes rwlock_t X for read while already holding it for read" in r.violations[0].message


# lib/locking-selftest.c, "Add more recursive read related test cases" (Boqun Feng, 2020):
# three tasks, each taking its first lock for write (W) or read (R) and its second likewise.
SELFTESTS = {
    # X -(ER)-> Y -(ER)-> Z -(ER)-> X: deadlock even if the reads are recursive
    "W1R2_W2R3_W3R1": ([("acq", "X"), ("read", "Y")], [("acq", "Y"), ("read", "Z")],
                       [("acq", "Z"), ("read", "X")], True),
    # X -(EN)-> Y -(SR)-> Z -(ER)-> X: deadlock
    "W1W2_R2R3_W3R1": ([("acq", "X"), ("acq", "Y")], [("read", "Y"), ("read", "Z")],
                       [("acq", "Z"), ("read", "X")], True),
    # X -(EN)-> Y -(SR)-> Z -(SN)-> X: not a deadlock
    "W1W2_R2R3_R3W1": ([("acq", "X"), ("acq", "Y")], [("read", "Y"), ("read", "Z")],
                       [("read", "Z"), ("acq", "X")], False),
    # X -(ER)-> Y -(SR)-> Z -(EN)-> X: not a deadlock
    "W1R2_R2R3_W3W1": ([("acq", "X"), ("read", "Y")], [("read", "Y"), ("read", "Z")],
                       [("acq", "Z"), ("acq", "X")], False),
}


@BOTH
@pytest.mark.parametrize("case", sorted(SELFTESTS))
def test_lockdep_selftest_three_lock_cycles_with_recursive_reads(scheduler, case):
    *bodies, deadlock = SELFTESTS[case]
    full = [b + [("rel", b[1][1]), ("rel", b[0][1])] for b in bodies]
    r = check(sequential(*full, locks={n: RecursiveRwLock for n in "XYZ"}), scheduler)
    if deadlock:
        assert len(r.violations) == 1 and "circular locking dependency" in r.violations[0].message
    else:
        assert r.ok and r.complete


@BOTH
def test_edges_stop_at_the_first_held_lock_not_trylocked_as_in_lockdep(scheduler):
    """check_prevs_add() adds edges only down to the first non-trylock held lock.

    T0 holds A (write) and B (recursive read) when it takes C: lockdep records
    A -(ER)-> B and B -(SN)-> C but no A -> C, and A -(ER)-> B -(SN)-> C is not
    a strong path, so T1's C -> A closes no strong cycle.  zsmc keeps lockdep's
    answer (docs/properties.md, "A known gap"); ``deadlock`` finds the ABBA on
    A and C when the tasks overlap.
    """
    body0 = [("acq", "A"), ("read", "B"), ("acq", "C"), ("rel", "C"), ("rel", "B"), ("rel", "A")]
    body1 = [("acq", "C"), ("acq", "A"), ("rel", "A"), ("rel", "C")]
    r = check(sequential(body0, body1, locks={n: RecursiveRwLock for n in "ABC"}), scheduler)
    assert r.ok and r.complete
    # With B taken for write instead, A -> B -> C is strong and the cycle is reported.
    body0w = [("acq", "A"), ("acq", "B"), ("acq", "C"), ("rel", "C"), ("rel", "B"), ("rel", "A")]
    r = check(sequential(body0w, body1, locks={n: RecursiveRwLock for n in "ABC"}), scheduler)
    assert len(r.violations) == 1 and "C -> A -> B -> C" in r.violations[0].message


@BOTH
def test_acquisitions_never_completed_in_a_deadlock_still_count(scheduler):
    """Validation happens at the attempt, as lockdep's lock_acquire(): the first execution
    explored may deadlock without any task completing its second acquisition."""
    def build():
        a, b = SpinLock("A"), SpinLock("B")
        go = Var("go", 0)

        def t0():
            yield a.acquire()
            yield go.rmw(lambda v: v + 1)
            yield go.spin_until(lambda v: v == 2)      # both hold their first lock
            yield b.acquire(); yield b.release(); yield a.release()

        def t1():
            yield b.acquire()
            yield go.rmw(lambda v: v + 1)
            yield go.spin_until(lambda v: v == 2)
            yield a.acquire(); yield a.release(); yield b.release()
        return Program([Task(t0, name="T0"), Task(t1, name="T1")])
    r = explore(build, scheduler=scheduler, properties=["lock-order", "deadlock"], stop_on_violation=False)
    assert r.complete and r.executions == r.deadlocks      # every execution deadlocks
    props = [v.property for v in r.violations]
    assert props.count("lock-order") == 1 and "deadlock" in props
    lo = next(v for v in r.violations if v.property == "lock-order")
    assert lo.execution == 1 and not any(s.action in ("acquire(B)",) and s.task_name == "T0"
                                         for s in lo.steps)
