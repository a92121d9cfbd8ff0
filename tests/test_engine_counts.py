"""Execution counts: closed forms for ``dfs``, Mazurkiewicz trace counts for ``dpor``.

The programs and their counts are those of dpor-benchmarks.md (sections 2 and
3); ``bench/programs.py`` writes them at the document's granularity.  ``dfs``
must explore every interleaving (the closed forms of the "Interleavings"
column); ``dpor`` exactly one execution per trace, never a redundant one.
Sizes are chosen so the file runs in seconds; the large sizes live in
``bench/bench_engine.py``.
"""

from __future__ import annotations

import importlib.util
from math import factorial

import pytest

from bench import programs as P
from bench.traces import count_traces
from checker import explore

HAVE_DEADLOCK_PROPERTY = importlib.util.find_spec("properties.deadlock") is not None


def run(build, scheduler, **kw):
    kw.setdefault("properties", [])
    r = explore(build, scheduler=scheduler, **kw)
    assert r.complete, r.reason
    return r


# -- dfs: every interleaving ----------------------------------------------------

@pytest.mark.parametrize("n,k", [(1, 5), (2, 1), (2, 3), (3, 2), (2, 5), (4, 2)])
def test_dfs_independent_tasks_give_the_multinomial(n, k):
    r = run(P.independent(n, k), "dfs")
    assert r.executions == factorial(n * k) // factorial(k) ** n
    assert r.redundant == 0 and r.deadlocks == 0
    assert r.outcomes == {tuple([k] * n)}


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_dfs_readers_gives_n_plus_1_factorial(n):
    r = run(P.readers(n), "dfs")
    assert r.executions == factorial(n + 1)
    # Each reader sees 0 or 42 independently: 2^N outcomes.
    assert len(r.outcomes) == 2 ** n


@pytest.mark.parametrize("name,n", [
    ("lastzero", 2), ("lastzero", 3), ("account", 1), ("account", 2), ("account", 3),
    ("lastwrite", 4), ("n_writers_a_reader", 3), ("philosophers", 2), ("philosophers", 3),
    ("philosophers_ordered", 2), ("philosophers_ordered", 3),
])
def test_dfs_interleaving_counts(name, n):
    r = run(P.PROGRAMS[name](n), "dfs")
    assert r.executions == P.interleavings(name, n)
    assert r.redundant == 0


def test_dfs_counter_interleavings():
    r = run(P.counter(2, 2), "dfs")
    assert r.executions == factorial(8) // factorial(4) ** 2
    # Two non-atomic increments each: lost updates leave 2, 3 or 4.
    assert {o[0] for o in r.outcomes} == {2, 3, 4}


def test_dfs_philosophers_deadlocks_in_every_interleaving_of_the_deadlocking_trace():
    # philosophers(2): 6 interleavings; the two where each takes its first fork deadlock.
    r = run(P.philosophers(2), "dfs")
    assert r.executions == 6 and r.deadlocks == 2
    assert (False, False) in r.outcomes and (True, True) in r.outcomes


# -- dpor: one execution per Mazurkiewicz trace ------------------------------------

DPOR_CASES = (
    [("readers", n) for n in (1, 2, 3, 5, 8)]
    + [("lastzero", n) for n in (1, 2, 3, 5, 8)]
    + [("account", n) for n in (1, 2, 3)]
    + [("n_writers_a_reader", n) for n in (1, 2, 4)]
    + [("lastwrite", n) for n in (1, 3, 5)]
    + [("philosophers_ordered", n) for n in (2, 3, 5)]
    + [(name, n) for name in ("n_rw_lock", "n_reads_lock", "n_writes_lock") for n in (2, 3, 5)]
    + [("indexer", 11), ("indexer", 12), ("filesystem", 13), ("filesystem", 14)]
)


@pytest.mark.parametrize("name,n", DPOR_CASES)
def test_dpor_explores_one_execution_per_trace(name, n):
    r = run(P.PROGRAMS[name](n), "dpor")
    assert r.executions == P.traces(name, n)
    assert r.redundant == 0
    assert r.deadlocks == 0


def test_dpor_closed_forms_spelled_out():
    # The formulas, independent of bench.programs.traces.
    assert run(P.readers(6), "dpor").executions == 2 ** 6
    assert run(P.lastzero(6), "dpor").executions == (6 + 3) * 2 ** (6 - 2)
    assert run(P.account(2), "dpor").executions == factorial(3) ** 2
    assert run(P.n_writers_a_reader(3), "dpor").executions == factorial(4)
    assert run(P.lastwrite(4), "dpor").executions == factorial(4)
    assert run(P.indexer(12), "dpor").executions == 8
    assert run(P.filesystem(14), "dpor").executions == 2


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_dpor_philosophers_has_exactly_one_deadlock(n):
    r = run(P.philosophers(n), "dpor")
    assert r.executions == 2 ** n - 1
    assert r.redundant == 0
    assert r.deadlocks == 1
    assert tuple([False] * n) in r.outcomes       # the deadlock: nobody ate
    assert tuple([True] * n) in r.outcomes


@pytest.mark.skipif(not HAVE_DEADLOCK_PROPERTY, reason="properties/deadlock.py not written yet")
@pytest.mark.parametrize("n", [2, 4])
def test_dpor_philosophers_deadlock_is_one_violation(n):
    r = explore(P.philosophers(n), properties=["deadlock"], stop_on_violation=False)
    assert r.complete
    assert r.executions == 2 ** n - 1 and r.deadlocks == 1
    assert [v.property for v in r.violations] == ["deadlock"]
    assert r.violation_count == 1


def test_dpor_counter_3x2_has_7134_traces():
    r = run(P.counter(3, 2), "dpor")
    assert r.executions == 7134 and r.redundant == 0
    assert {o[0] for o in r.outcomes} == {2, 3, 4, 5, 6}


def test_dpor_independent_tasks_is_one_execution():
    r = run(P.independent(4, 3), "dpor")
    assert r.executions == 1 and r.redundant == 0


# -- dpor against dfs ---------------------------------------------------------------

SMALL = [("readers", (4,)), ("lastzero", (3,)), ("account", (2,)), ("lastwrite", (4,)),
         ("n_writers_a_reader", (3,)), ("philosophers", (3,)), ("philosophers_ordered", (3,)),
         ("n_rw_lock", (3,)), ("n_reads_lock", (3,)), ("n_writes_lock", (3,)),
         ("counter", (2, 2)), ("independent", (3, 2))]


@pytest.mark.parametrize("name,args", SMALL)
def test_dpor_and_dfs_agree_on_small_programs(name, args):
    build = P.PROGRAMS[name](*args)
    traces, dfs = count_traces(build)
    dpor = run(build, "dpor")
    assert dfs.complete
    assert dpor.outcomes == dfs.outcomes
    assert (dpor.deadlocks > 0) == (dfs.deadlocks > 0)
    assert dpor.executions == traces <= dfs.executions
    assert dpor.redundant == 0


def test_naive_trace_counter_matches_the_closed_forms():
    # The oracle of the differential test, checked against the document's table.
    for name, n in [("readers", 3), ("lastzero", 3), ("account", 2), ("philosophers", 3),
                    ("philosophers_ordered", 3), ("n_reads_lock", 3)]:
        assert count_traces(P.PROGRAMS[name](n))[0] == P.traces(name, n), name


def lockdep_annotations(n):
    """``n`` tasks annotating one ``lockdep_map`` around a write of their own variable."""
    from checker import LockMap, Program, Task, Var

    def build():
        d = LockMap("zspage->lock")
        xs = [Var(f"x{i}", 0) for i in range(n)]

        def body(i, shared):
            def fn():
                yield d.acquire(shared=shared)
                yield xs[i].write(1)
                yield d.release()
            return fn
        return Program([Task(body(i, i % 2 == 0), f"T{i}", cpu=i) for i in range(n)], cpus=n)
    return build


@pytest.mark.parametrize("n", [2, 3])
def test_lockdep_annotations_are_independent_of_other_tasks(n):
    """A LockMap never waits and no other task reads it (lockdep's verdicts are
    per task), so annotations add no trace: dpor runs one execution where dfs
    runs the multinomial of n tasks of 3 steps."""
    assert run(lockdep_annotations(n), "dfs").executions == factorial(3 * n) // factorial(3) ** n
    r = run(lockdep_annotations(n), "dpor")
    assert r.executions == 1 and r.redundant == 0
