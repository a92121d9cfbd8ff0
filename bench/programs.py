"""The classic stateless model-checking benchmarks as ``build`` functions.

Each function here takes the size parameters and returns a zero-argument
``build`` for :func:`checker.explore`.  The programs follow the pseudocode of
``dpor-benchmarks.md`` section 2 exactly (the trace counts of its section 3
hold only under that granularity):

* every shared read, shared write, lock acquire and lock release is one yield;
  thread-local computation (loop counters, hashing, arithmetic) is plain Python;
* memory is initialised in ``build()``, before any task runs; thread create
  and join are not events (a "main reads after join" is done in ``observe``);
* one CPU per task (``Program(..., cpus=None)``), so no CPU is shared and the
  lock kind (Mutex here) does not change any count.

``observe`` returns the final shared state plus every value a task read, so
the outcome sets of two schedulers can be compared.  :func:`traces` and
:func:`interleavings` (from ``bench/counts.py``) give the expected counts.
"""

from __future__ import annotations

from checker import Mutex, Program, Task, Var

from .counts import interleavings, traces

__all__ = [
    "PROGRAMS",
    "account",
    "counter",
    "filesystem",
    "independent",
    "indexer",
    "interleavings",
    "lastwrite",
    "lastzero",
    "n_reads_lock",
    "n_rw_lock",
    "n_writers_a_reader",
    "n_writes_lock",
    "philosophers",
    "philosophers_ordered",
    "readers",
    "traces",
]


def _values(vs) -> tuple:
    return tuple(v.value for v in vs)


def readers(n: int):
    """One writer ``x := 42``, N readers ``r := x``.  Traces 2^N; interleavings (N+1)!."""
    def build():
        x = Var("x", 0)
        seen = [None] * n

        def writer():
            yield x.write(42)

        def reader(i):
            def run():
                seen[i] = yield x.read()
            return run

        tasks = [Task(writer, name="W")] + [Task(reader(i), name=f"R{i + 1}") for i in range(n)]
        return Program(tasks, cpus=None, observe=lambda: (x.value, tuple(seen)))
    return build


def lastzero(n: int):
    """Thread 0 scans ``array`` down for the last zero; thread j does ``array[j] := array[j-1] + 1``.

    Traces (N+3)*2^(N-2).
    """
    def build():
        arr = [Var(f"array[{i}]", 0) for i in range(n + 1)]
        found = [None]
        got = [None] * (n + 1)

        def scanner():
            i = n
            # array[0] is never written, so the loop stops at i = 0 at the latest.
            while (yield arr[i].read()) != 0:
                i -= 1
            found[0] = i

        def incr(j):
            def run():
                t = yield arr[j - 1].read()
                got[j] = t
                yield arr[j].write(t + 1)
            return run

        tasks = [Task(scanner, name="T0")] + [Task(incr(j), name=f"T{j}") for j in range(1, n + 1)]
        return Program(tasks, cpus=None, observe=lambda: (found[0], tuple(got), _values(arr)))
    return build


def lastwrite(n: int):
    """N threads ``var := i``; main reads ``var`` after joining (in observe).  Traces N!."""
    def build():
        var = Var("var", 0)

        def writer(i):
            def run():
                yield var.write(i)
            return run

        tasks = [Task(writer(i), name=f"T{i}") for i in range(1, n + 1)]
        return Program(tasks, cpus=None, observe=lambda: var.value)
    return build


def n_writers_a_reader(n: int):
    """N threads ``x := id`` and one ``r := x``.  Traces (N+1)!."""
    def build():
        x = Var("x", 0)
        seen = [None]

        def writer(i):
            def run():
                yield x.write(i)
            return run

        def reader():
            seen[0] = yield x.read()

        tasks = [Task(writer(i), name=f"W{i}") for i in range(1, n + 1)] + [Task(reader, name="R")]
        return Program(tasks, cpus=None, observe=lambda: (x.value, seen[0]))
    return build


def account(n: int):
    """N deposits ``amount += 100`` and one withdraw ``amount -= 10``, each a read then a write.

    Traces ((N+1)!)^2.
    """
    def build():
        amount = Var("amount", 1000)
        seen = [None] * (n + 1)

        def change(i, delta):
            def run():
                t = yield amount.read()
                seen[i] = t
                yield amount.write(t + delta)
            return run

        tasks = [Task(change(i, 100), name=f"deposit{i}") for i in range(n)]
        tasks.append(Task(change(n, -10), name="withdraw"))
        return Program(tasks, cpus=None, observe=lambda: (amount.value, tuple(seen)))
    return build


NUMBLOCKS = 26
NUMINODE = 32


def filesystem(n: int):
    """Flanagan & Godefroid's file system: inode and block allocation under per-slot locks.

    Traces 1 for N <= 13, then 2^(N-13) up to N = 26.
    """
    def build():
        inode = [Var(f"inode[{i}]", 0) for i in range(NUMINODE)]
        busy = [Var(f"busy[{b}]", 0) for b in range(NUMBLOCKS)]
        locki = [Mutex(f"locki[{i}]") for i in range(NUMINODE)]
        lockb = [Mutex(f"lockb[{b}]") for b in range(NUMBLOCKS)]

        def thread(tid):
            def run():
                i = tid % NUMINODE
                yield locki[i].acquire()
                if (yield inode[i].read()) == 0:
                    b = (2 * i) % NUMBLOCKS
                    for _ in range(10):
                        yield lockb[b].acquire()
                        if (yield busy[b].read()) == 0:
                            yield busy[b].write(1)
                            yield inode[i].write(b + 1)
                            yield lockb[b].release()
                            break
                        yield lockb[b].release()
                        b = (b + 1) % NUMBLOCKS
                yield locki[i].release()
            return run

        tasks = [Task(thread(t), name=f"T{t}") for t in range(n)]
        return Program(tasks, cpus=None, observe=lambda: (_values(inode), _values(busy)))
    return build


SIZE = 128
MAX = 4


def indexer(n: int):
    """Flanagan & Godefroid's indexer: hash-table inserts with linear probing under per-cell locks.

    Traces 1 for N <= 11, then 8^(N-11) up to N = 22.
    """
    def build():
        table = [Var(f"table[{h}]", 0) for h in range(SIZE)]
        cas_mutex = [Mutex(f"cas_mutex[{h}]") for h in range(SIZE)]

        def thread(tid):
            def run():
                for m in range(1, MAX + 1):
                    w = 11 * m + tid
                    h = (7 * w) % SIZE
                    while True:
                        yield cas_mutex[h].acquire()
                        if (yield table[h].read()) == 0:
                            yield table[h].write(w)
                            ok = True
                        else:
                            ok = False
                        yield cas_mutex[h].release()
                        if ok:
                            break
                        h = (h + 1) % SIZE
            return run

        tasks = [Task(thread(t), name=f"T{t}") for t in range(n)]
        return Program(tasks, cpus=None, observe=lambda: _values(table))
    return build


def _philosophers(n: int, ordered: bool):
    def build():
        forks = [Mutex(f"fork[{i}]") for i in range(n)]
        done = [False] * n

        def philosopher(i):
            first, second = i, (i + 1) % n
            if ordered and second < first:
                first, second = second, first

            def run():
                yield forks[first].acquire()
                yield forks[second].acquire()
                yield forks[second].release()
                yield forks[first].release()
                done[i] = True
            return run

        tasks = [Task(philosopher(i), name=f"P{i}") for i in range(n)]
        return Program(tasks, cpus=None, observe=lambda: tuple(done))
    return build


def philosophers(n: int):
    """Philosopher i takes fork i then fork i+1 mod N.  Traces 2^N - 1, exactly one deadlocks."""
    return _philosophers(n, ordered=False)


def philosophers_ordered(n: int):
    """Philosophers taking the lower-numbered fork first (deadlock-free).  Traces 2^N - 2."""
    return _philosophers(n, ordered=True)


def _locked(n: int, do_read: bool, do_write: bool):
    def build():
        x = Var("x", 0)
        lk = Mutex("l")
        seen = [None] * n

        def thread(i):
            def run():
                yield lk.acquire()
                if do_read:
                    seen[i] = yield x.read()
                if do_write:
                    yield x.write(i + 1)
                yield lk.release()
            return run

        tasks = [Task(thread(i), name=f"T{i}") for i in range(n)]
        return Program(tasks, cpus=None, observe=lambda: (x.value, tuple(seen)))
    return build


def n_rw_lock(n: int):
    """N threads ``lock(l); r := x; x := i+1; unlock(l)`` (GenMC N-rw-lock).  Traces N!."""
    return _locked(n, True, True)


def n_reads_lock(n: int):
    """N threads ``lock(l); r := x; unlock(l)``.  Traces N! (lock events are dependent)."""
    return _locked(n, True, False)


def n_writes_lock(n: int):
    """N threads ``lock(l); x := i+1; unlock(l)``.  Traces N!."""
    return _locked(n, False, True)


def counter(threads: int, increments: int):
    """``threads`` tasks each doing ``increments`` non-atomic ``c := c + 1`` (a read then a write).

    The peer-comparison workload of issue 2: 3 x 2 has 7,134 traces.
    """
    def build():
        c = Var("counter", 0)
        seen = [[] for _ in range(threads)]

        def thread(i):
            def run():
                for _ in range(increments):
                    v = yield c.read()
                    seen[i].append(v)
                    yield c.write(v + 1)
            return run

        tasks = [Task(thread(i), name=f"T{i}") for i in range(threads)]
        return Program(tasks, cpus=None,
                       observe=lambda: (c.value, tuple(tuple(s) for s in seen)))
    return build


def independent(n: int, k: int):
    """``n`` tasks of ``k`` writes each to a private Var: one trace, (nk)!/(k!)^n interleavings."""
    def build():
        vs = [Var(f"v{i}", 0) for i in range(n)]

        def thread(i):
            def run():
                for s in range(k):
                    yield vs[i].write(s + 1)
            return run

        tasks = [Task(thread(i), name=f"T{i}") for i in range(n)]
        return Program(tasks, cpus=None, observe=lambda: _values(vs))
    return build


# name -> build factory, for the benchmark script and parametrised tests.
PROGRAMS = {
    "readers": readers, "lastzero": lastzero, "lastwrite": lastwrite,
    "n_writers_a_reader": n_writers_a_reader, "account": account, "filesystem": filesystem,
    "indexer": indexer, "philosophers": philosophers, "philosophers_ordered": philosophers_ordered,
    "n_rw_lock": n_rw_lock, "n_reads_lock": n_reads_lock, "n_writes_lock": n_writes_lock,
    "counter": counter, "independent": independent,
}
