"""Differential test: ``dpor`` against the ``dfs`` oracle on random small programs.

Hypothesis draws programs of 2-3 tasks, each a short list of items:

* ``read``, ``write``, ``rmw`` (atomic add), ``cmpxchg`` on two shared Vars;
* ``spin`` until a Var satisfies ``==``, ``!=`` or ``>=`` a constant;
* ``label``: an invisible step (no footprint), independent even of the
  atomic sections of its CPU;
* ``lock``: acquire, a body of items, release (SpinLock, Mutex, RwLock shared
  or exclusive), nested at most two deep;
* ``trylock``: the body and the release run only when the trylock succeeds;
* ``choose`` between 0 and 1, which selects one of two bodies;
* ``preempt``: preempt_disable, a body, preempt_enable;
* ``use``/``wuse``: a declared read/write of the object the struct lives in (the plain
  accesses after one stand at it);
* ``pread``/``pwrite`` of a field of a shared struct, and ``dset``/``dget``
  of a key of a shared dict: plain accesses, no yield, so they belong to the
  step before them (checker.memory: the footprint comes from the accesses);
  the struct lives in the refcounted object, so they may read freed memory;
* ``duse``/``cuse``: a declared access of a permanent descriptor (fields
  ``w`` and ``c``) or of its part (``Obj.parts``: field ``c`` only), the
  page descriptor and its chain words; a put's free check reads ``w``
  (``free_pages_prepare``), so it conflicts with ``duse`` writes, not with
  ``cuse`` ones;

placed on one CPU per task, on one shared CPU, or pinned to CPUs 0/1.

For every program ``dpor`` must find exactly the outcomes of ``dfs`` (the final
value of every Var plus every value each task got back, and how far each task
got, so a deadlocked run is an outcome too) and the same deadlock-or-not
answer, in no more executions and with no redundant (sleep-set blocked) one.
Where no CPU is shared, ``dpor`` must also be optimal: exactly one execution
per Mazurkiewicz trace, counted naively by ``bench.traces``.

Any counterexample here is a bug in ``dpor``: the minimal program Hypothesis
prints is the report.

The suite runs three fifths of each test's examples (it must stay under ten
minutes on CI's two cores); ``ZSMC_DIFFERENTIAL=full`` runs them all, and
``python -m bench.fuzz_dpor`` is the long run (docs/benchmarks.md,
"Differential checks of the reduction").
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from math import factorial

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bench.fuzz_dpor import OrderedDPOR
from bench.traces import count_traces
from checker import (
    Monitor,
    Mutex,
    Obj,
    Program,
    RwLock,
    SharedDict,
    SpinLock,
    Task,
    Var,
    actions,
    choose,
    explore,
    label,
    preempt_disable,
    preempt_enable,
    shared_struct,
)
from checker.atomics import ACQUIRE, RELAXED, RELEASE

VARS = ("x", "y")
LOCKS = (("spin", SpinLock), ("mutex", Mutex), ("rw", RwLock))
MAX_INTERLEAVINGS = 3000       # keeps dfs (about 25k executions/s) fast per example

FULL = os.environ.get("ZSMC_DIFFERENTIAL") == "full"


def examples(n: int) -> int:
    """How many of a test's ``n`` examples this run draws."""
    return n if FULL else max(20, n * 3 // 5)


SETTINGS = settings(max_examples=examples(200), deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# -- the program language ------------------------------------------------------------

var = st.sampled_from(VARS)
simple = st.one_of(
    st.tuples(st.just("read"), var),
    st.tuples(st.just("write"), var, st.integers(1, 2)),
    st.tuples(st.just("rmw"), var, st.integers(1, 2)),
    st.tuples(st.just("cmpxchg"), var, st.integers(0, 1), st.integers(1, 2)),
    st.tuples(st.just("spin"), var, st.sampled_from(["==", "!=", ">="]), st.integers(0, 2)),
    st.tuples(st.just("label")),
    # A refcount (a counter Var: its additions commute) and the object it keeps alive.
    st.tuples(st.just("get")),
    st.tuples(st.just("put"), st.booleans()),
    st.tuples(st.just("use")),
    # A declared write of the object's memory: the plain writes after it stand at it, so
    # a "use" then "pread" of the same field is a racy-by-design read the search orders
    # (isolate_movable_page's unlocked movable test against SetZsPageMovable).
    st.tuples(st.just("wuse")),
    # The same, marked (READ_ONCE / WRITE_ONCE): a pair of them, or a marked read against
    # a plain declared write, is no data race (checker.races, KCSAN's rule).
    st.tuples(st.just("muse")),
    st.tuples(st.just("mwuse")),
    st.tuples(st.just("map")),
    st.tuples(st.just("wait"), st.sampled_from([0, 1, 2])),     # wait_unlocked
    # A section of the lock g over its guarded counter (the guarded-sections
    # reduction), and, rarely, an access that breaks the declaration.
    st.tuples(st.just("guarded"), st.sampled_from(["add", "sub", "read", "write"])),
    st.tuples(st.just("unguarded")),
    # Plain accesses (no yield) to shared memory: a struct's fields, a dict's keys.
    st.tuples(st.just("pread"), st.sampled_from(["a", "b", "w", "c"])),
    st.tuples(st.just("pwrite"), st.sampled_from(["a", "b", "w", "c"]), st.integers(1, 2)),
    # A declared access of the descriptor (both its Objs) or of its part alone.
    st.tuples(st.just("duse"), st.booleans()),
    st.tuples(st.just("cuse"), st.booleans()),
    st.tuples(st.just("dget"), st.integers(0, 1)),
    st.tuples(st.just("dset"), st.integers(0, 1), st.integers(1, 2)),
    # A plain read of the refcount: after one's own get or put, which commutes with
    # the other tasks', it is ordered by nothing.
    st.tuples(st.just("peek")),
)

PLAIN = frozenset({"pread", "pwrite", "dget", "dset", "peek"})


@shared_struct(owner="owner")
@dataclass(slots=True, eq=False)
class Shared:
    """A struct in the refcounted object's memory: its fields are plain shared memory."""

    owner: Obj
    a: int = 0
    b: int = 0
    d: SharedDict = None


@shared_struct(owner="desc", owners={"c": "part"})
@dataclass(slots=True, eq=False)
class Desc:
    """A never-freed descriptor whose field ``c`` lives in a part of its own."""

    desc: Obj
    part: Obj
    w: int = 0
    c: int = 0


def block(depth):
    """Items that wrap a body: lock, trylock, choose, preempt."""
    body = st.lists(item(depth + 1), min_size=0, max_size=2)
    lock = st.sampled_from([0, 1, 2])
    return st.one_of(
        st.tuples(st.just("lock"), lock, st.booleans(), body),
        st.tuples(st.just("trylock"), lock, st.booleans(), body),
        st.tuples(st.just("choose"), body, body),
        st.tuples(st.just("preempt"), body),
    )


def item(depth=0):
    if depth >= 2:
        return simple
    return st.one_of(simple, simple, block(depth))


@st.composite
def programs(draw):
    ntasks = draw(st.integers(2, 3))
    placement = draw(st.sampled_from(["own", "one", "pinned"]))
    tasks = []
    for i in range(ntasks):
        cpu = {"own": None, "one": 0}.get(placement)
        if placement == "pinned":
            cpu = draw(st.integers(0, 1))
        tasks.append((cpu, draw(st.lists(item(), min_size=1, max_size=4))))
    return placement, tuple(tasks)


@st.composite
def mixed_programs(draw):
    """Several tasks per CPU and several CPUs (checker.mixed's sections): 3-4
    tasks on CPUs 0/1, the first two on different CPUs, so one CPU has two."""
    ntasks = draw(st.integers(3, 4))
    tasks = []
    for i in range(ntasks):
        cpu = i if i < 2 else draw(st.integers(0, 1))
        tasks.append((cpu, draw(st.lists(item(), min_size=1, max_size=3 if ntasks == 3 else 2))))
    return "pinned", tuple(tasks)


@st.composite
def mixed_choice_programs(draw):
    """Three tasks, CPU 0 shared by tasks 0 and 2, task 1 alone on CPU 1 and
    starting with a ``choose`` of two bodies, mostly accesses to the Vars: where
    a grouped step of checker.mixed could start with a choice whose values
    touch different objects (docs/design.md, "Choices in mixed sections")."""
    touch = st.one_of(st.tuples(st.just("read"), var), st.tuples(st.just("write"), var, st.integers(1, 2)),
                      st.tuples(st.just("rmw"), var, st.integers(1, 2)))
    body = st.lists(st.one_of(touch, touch, simple), min_size=1, max_size=2)
    choice = st.tuples(st.just("choose"), body, body)
    step = st.one_of(touch, touch, simple, choice, st.tuples(st.just("preempt"), body))
    return "pinned", ((0, draw(st.lists(step, min_size=1, max_size=3))),
                      (1, [draw(choice)] + draw(st.lists(step, max_size=1))),
                      (0, draw(st.lists(st.one_of(simple, choice), min_size=1, max_size=2))))


# -- size estimate, to keep dfs cheap ------------------------------------------------------

def max_events(items) -> tuple[int, int]:
    """(upper bound on the steps of ``items``, number of choose items)."""
    steps = chooses = 0
    for it in items:
        kind = it[0]
        if kind in ("lock", "trylock"):
            s, c = max_events(it[3])
            steps += 2 + s
            chooses += c
        elif kind == "preempt":
            s, c = max_events(it[1])
            steps += 2 + s
            chooses += c
        elif kind == "choose":
            (sa, ca), (sb, cb) = max_events(it[1]), max_events(it[2])
            steps += 1 + max(sa, sb)
            chooses += 1 + ca + cb
        elif kind == "put":
            steps += 1 + it[1]
        elif kind == "guarded":
            steps += 3
        elif kind == "map":
            steps += 2
        elif kind in PLAIN:
            steps += 1      # at most: a label when nothing yielded before it
        else:
            steps += 1
    return steps, chooses


def interleaving_bound(tasks) -> int:
    sizes = [max_events(items) for _, items in tasks]
    n = factorial(sum(s for s, _ in sizes))
    for s, _ in sizes:
        n //= factorial(s)
    return n * 2 ** sum(c for _, c in sizes)


# -- the interpreter ---------------------------------------------------------------------

PREDICATES = {"==": lambda c: lambda v: v == c, "!=": lambda c: lambda v: v != c,
              ">=": lambda c: lambda v: v >= c}


WEAK_ORDERS = (RELAXED, ACQUIRE, RELEASE, None)


def make_build(spec, config=None, memory_model=None):
    """``memory_model="ra"``: each Var action carries an ordering, a function of the
    item (the same in every execution), so that loads and stores take choices."""
    placement, tasks = spec
    weak = memory_model == "ra"
    keeps = zlib.crc32(repr(spec).encode()) % 2 == 0

    def order(it):
        return WEAK_ORDERS[zlib.crc32(repr(it).encode()) % len(WEAK_ORDERS)] if weak else None

    def build():
        vs = {n: Var(n, 0) for n in VARS}
        # Enough references that the puts (one per task) never underflow.  In half the
        # programs the count keeps the object alive, so that a task's read after its
        # own get commutes with the others' puts (checker/refs.py).
        obj = Obj("obj")
        ref = Var("ref", len(tasks), counter=True, keeps=obj if keeps else None)
        mem = Shared(obj, d=SharedDict({0: 0}))
        part = Obj("part", permanent=True)
        dsc = Desc(Obj("desc", permanent=True, parts=(part,)), part)
        put_done = set()
        g = SpinLock("g")
        gv = Var("gv", 0, counter=True, guard=g)
        locks = [cls(f"{name}{k}") for k, (name, cls) in enumerate(LOCKS)]
        logs = [[] for _ in tasks]

        def run(items, log, held):
            for it in items:
                kind = it[0]
                if kind in PLAIN:
                    if kind == "pread":
                        log.append((it[1], getattr(mem if it[1] in "ab" else dsc, it[1])))
                    elif kind == "pwrite":
                        setattr(mem if it[1] in "ab" else dsc, it[1], it[2])
                    elif kind == "dget":
                        log.append(("d", mem.d.get(it[1])))
                    elif kind == "peek":
                        log.append(("peek", ref.value))
                    else:
                        mem.d[it[1]] = it[2]
                    continue
                if kind == "read":
                    log.append((yield vs[it[1]].read(order(it))))
                elif kind == "write":
                    yield vs[it[1]].write(it[2], order(it))
                elif kind == "rmw":
                    c = it[2]
                    log.append((yield vs[it[1]].rmw(lambda v, c=c: v + c, order(it))))
                elif kind == "cmpxchg":
                    log.append((yield vs[it[1]].cmpxchg(it[2], it[3], order(it))))
                elif kind == "spin":
                    log.append((yield vs[it[1]].spin_until(PREDICATES[it[2]](it[3]), order(it))))
                elif kind == "label":
                    yield label("note")
                elif kind == "get":
                    yield ref.add(1)
                elif kind == "put":
                    if id(log) in put_done:
                        continue
                    put_done.add(id(log))
                    yield ref.add(-1, frees=obj, on_free=lambda: log.append(("check", dsc.w)))
                    if it[1]:
                        log.append(("ref", (yield ref.read())))
                elif kind == "guarded":
                    if g in held:
                        continue
                    yield g.acquire()
                    what = it[1]
                    if what == "read":
                        log.append(("gv", (yield gv.read())))
                    elif what == "write":
                        yield gv.write(len(log))
                    else:
                        yield gv.add(1 if what == "add" else -1)
                    yield g.release()
                elif kind == "unguarded":
                    log.append(("gv?", (yield gv.read())))
                elif kind == "wait":
                    if locks[it[1]] not in held:      # waiting on a lock one holds: self-deadlock
                        yield locks[it[1]].wait_unlocked()
                        log.append("waited")
                elif kind == "map":
                    yield obj.pin()
                    at_pin = obj.alive
                    yield obj.unpin()
                    log.append(("mapped", at_pin, obj.alive))
                elif kind == "duse" or kind == "cuse":
                    yield (dsc.desc if kind == "duse" else part).access(write=it[1])
                elif kind in ("use", "wuse", "muse", "mwuse"):
                    yield obj.access(write=kind in ("wuse", "mwuse"), marked=kind[0] == "m")
                    log.append(("alive", obj.alive))
                elif kind == "preempt":
                    yield preempt_disable()
                    yield from run(it[1], log, held)
                    yield preempt_enable()
                elif kind == "choose":
                    c = yield choose([0, 1])
                    log.append(("choice", c))
                    yield from run(it[1 + c], log, held)
                else:
                    lk = locks[it[1]]
                    shared = it[2] and lk.rw
                    if lk in held:
                        # Re-taking a held lock is a self-deadlock, not an interesting one.
                        yield from run(it[3], log, held)
                        continue
                    if kind == "lock":
                        yield lk.acquire(shared=shared)
                        ok = True
                    else:
                        ok = yield lk.try_acquire(shared=shared)
                        log.append(("try", ok))
                    if ok:
                        yield from run(it[3], log, held | {lk})
                        yield lk.release()

        def task(i, items):
            def fn():
                if items[0][0] in PLAIN:
                    yield label("start")        # a task's first step must be an action
                yield from run(items, logs[i], frozenset())
                logs[i].append("end")
            return fn

        specs = [Task(task(i, items), name=f"t{i}", cpu=cpu) for i, (cpu, items) in enumerate(tasks)]
        cpus = {"own": None, "one": 1, "pinned": 2}[placement]
        return Program(specs, cpus=cpus, config=config, memory_model=memory_model,
                       observe=lambda: (tuple(v.value for v in vs.values()), ref.value, obj.alive, gv.value,
                                        tuple(tuple(log) for log in logs), mem.a, mem.b,
                                        tuple(sorted(mem.d.items()))))
    return build


def shares_a_cpu(spec) -> bool:
    placement, tasks = spec
    cpus = [cpu for cpu, _ in tasks]
    return placement == "one" or len(set(cpus)) < len(cpus)


# -- the properties ------------------------------------------------------------------------

def check(spec, optimal: bool, config=None, memory_model=None):
    assume(interleaving_bound(spec[1]) <= MAX_INTERLEAVINGS)
    build = make_build(spec, config, memory_model)
    dfs = explore(build, scheduler="dfs", properties=[], stop_on_violation=False)
    if optimal and not has_race(dfs):
        traces, dfs = count_traces(build)
    dpor = explore(build, scheduler="dpor", properties=[], stop_on_violation=False)
    # The search orders actions only: complete for programs whose plain
    # accesses are race-free, and it must say when they are not.
    raced = has_race(dfs)
    assert has_race(dpor) == raced, f"dfs race {raced}, dpor race {has_race(dpor)}"
    if raced:
        assert not dpor.complete and "data race" in dpor.reason
        return
    assert dfs.complete and dpor.complete, dpor.reason
    assert dpor.outcomes == dfs.outcomes, (
        f"missed {dfs.outcomes - dpor.outcomes}, invented {dpor.outcomes - dfs.outcomes}")
    assert (dpor.deadlocks > 0) == (dfs.deadlocks > 0)
    if memory_model is not None:
        # A weak model's choices are explored as choose() values are; a value that a
        # reordering moved can end a run sleep-set blocked (counted as redundant).
        assert dpor.executions <= dfs.executions
        return
    assert dpor.executions + dpor.redundant <= dfs.executions
    if not has_choice(spec) and not (has_label(spec) and shares_a_cpu(spec)) \
            and not (shares_a_cpu(spec) and dfs.deadlocks):
        # Choice values are explored as data: a wakeup sequence built under one
        # value and followed under another can end sleep-set blocked; so can an
        # invisible step kept asleep across a section of its CPU, or a task a stuck
        # section keeps off a shared CPU (known, counted inefficiencies, see
        # docs/design.md).  Otherwise dpor is optimal.
        assert dpor.redundant == 0
        if optimal and "'guarded'" in repr(spec):
            # Guarded sections are one step each, and two that leave the lock
            # free commute: fewer executions than step-level traces.
            assert dpor.executions <= traces
        elif optimal:
            assert dpor.executions == traces


def has_race(r) -> bool:
    return r.races > 0 or any(v.property == "data-race" for v in r.violations)


def has_choice(spec) -> bool:
    return "'choose'" in repr(spec)


def has_label(spec) -> bool:
    return "'label'" in repr(spec)


@SETTINGS
@given(programs())
def test_dpor_finds_exactly_what_dfs_finds(spec):
    check(spec, optimal=False)


@settings(SETTINGS, max_examples=examples(250))
@given(mixed_programs())
def test_dpor_finds_exactly_what_dfs_finds_with_several_tasks_on_each_of_two_cpus(spec):
    # Sections of a shared CPU grouped by Lipton's reduction while the other
    # CPU's tasks run (checker.mixed), with the lock discipline learned.
    check(spec, optimal=False)


@settings(SETTINGS, max_examples=examples(60))
@given(mixed_programs())
def test_dpor_finds_exactly_what_dfs_finds_with_a_cold_lock_discipline(spec):
    # As above without the warm-up (checker.mixed_warmup): the discipline is
    # learned by the search alone, which starts again when it weakens.
    from checker import mixed_warmup
    keep, mixed_warmup.WARM_UP = mixed_warmup.WARM_UP, 0
    try:
        check(spec, optimal=False)
    finally:
        mixed_warmup.WARM_UP = keep


@settings(SETTINGS, max_examples=examples(150))
@given(programs().filter(shares_a_cpu))
def test_dpor_finds_exactly_what_dfs_finds_on_preempt_rt(spec):
    # On RT the spinlocks sleep and leave their holders preemptible: the CPU
    # ownership dpor reasons about changes with the kernel configuration.
    check(spec, optimal=False, config="rt")


@settings(SETTINGS, max_examples=examples(150))
@given(programs())
def test_dpor_finds_exactly_what_dfs_finds_under_ra(spec):
    # A weak memory model: loads choose the store they read, stores their place in
    # mo (checker.memory_model); dpor takes those choices as choose() values.
    check(spec, optimal=False, memory_model="ra")


@settings(SETTINGS, max_examples=examples(100))
@given(programs().filter(lambda s: not shares_a_cpu(s)))
def test_dpor_is_optimal_without_cpu_sharing(spec):
    check(spec, optimal=True)


@st.composite
def leading_choice_programs(draw):
    """2-3 tasks on CPUs of their own, each starting with a ``choose`` whose two
    bodies hold no further choice, then plain items: the shape of the model's
    clients and migrations at depth 1."""
    tasks = []
    for _ in range(draw(st.integers(2, 3))):
        body = st.lists(simple, min_size=0, max_size=2)
        rest = draw(st.lists(simple, min_size=0, max_size=2))
        tasks.append((None, [("choose", draw(body), draw(body))] + rest))
    return "own", tuple(tasks)


@settings(SETTINGS, max_examples=examples(100))
@given(leading_choice_programs())
def test_dpor_is_optimal_when_every_choice_comes_first(spec):
    # dpor takes a pending choose() before any other unguided step, so a task's
    # first choice runs at a node whose sleep set is empty: no other value of
    # it can end sleep-set blocked (docs/design.md, "Choice values are events").
    check(spec, optimal=True)
    build = make_build(spec)
    dpor = explore(build, scheduler="dpor", properties=[], stop_on_violation=False)
    if not has_race(dpor):
        assert dpor.redundant == 0
        traces, _ = count_traces(build)
        if "'guarded'" in repr(spec):
            assert dpor.executions <= traces     # two free-leaving sections commute
        else:
            assert dpor.executions == traces


def test_the_interpreter_runs_every_kind_of_item():
    # A fixed program using every item kind, so a broken interpreter cannot pass vacuously.
    spec = ("pinned", (
        (0, [("lock", 0, False, [("write", "x", 1), ("read", "y")]),
             ("choose", [("rmw", "y", 2)], [("cmpxchg", "y", 0, 1)])]),
        (1, [("trylock", 2, True, [("read", "x")]), ("preempt", [("spin", "x", ">=", 0)]),
             ("lock", 1, False, [("write", "y", 2)])]),
    ))
    r = explore(make_build(spec), scheduler="dfs", properties=[])
    assert r.complete and r.deadlocks == 0
    finals = {o[0] for o in r.outcomes}
    assert (1, 2) in finals and (1, 4) in finals        # rmw after, or before, the write of 2
    logs0 = {o[4][0] for o in r.outcomes}
    assert any(("choice", 0) in log for log in logs0) and any(("choice", 1) in log for log in logs0)
    assert all(log[-1] == "end" for o in r.outcomes for log in o[4])
    assert interleaving_bound(spec[1]) >= r.executions


def test_the_interpreter_runs_the_refcount_items():
    # Two tasks of 2 references: a get, then puts; the object dies only when both
    # puts and no more gets have run, and a use sees it dead only after that.
    spec = ("pinned", ((0, [("put", True), ("use",)]), (1, [("get",), ("put", False)])))
    r = explore(make_build(spec), scheduler="dfs", properties=[])
    assert r.complete and r.executions == interleaving_bound(spec[1])
    assert {o[1:3] for o in r.outcomes} == {(1, True)}      # 2 + 1 - 1 - 1: alive
    refs = {x[1] for o in r.outcomes for x in o[4][0] if isinstance(x, tuple) and x[0] == "ref"}
    assert refs == {1, 2}        # the first put ran before, or after, the other task's get and put
    d = explore(make_build(spec), scheduler="dpor", properties=[])
    assert d.outcomes == r.outcomes and d.executions < r.executions


def test_the_interpreter_runs_guarded_sections():
    # Two tasks of two guarded sections each: dfs sees every interleaving of the
    # sections' steps, dpor runs each section as one step, and sections of
    # additions commute: one trace.
    spec = ("own", ((None, [("guarded", "add"), ("guarded", "sub")]),
                    (None, [("guarded", "add"), ("guarded", "add")])))
    d = explore(make_build(spec), scheduler="dfs", properties=[])
    r = explore(make_build(spec), scheduler="dpor", properties=[])
    assert d.complete and r.complete and d.outcomes == r.outcomes
    assert {o[3] for o in d.outcomes} == {2}
    assert d.executions == 6 and r.executions == 1 and r.note == ""


def test_a_broken_guard_makes_dpor_start_again_without_the_reduction():
    spec = ("own", ((None, [("guarded", "add")]), (None, [("unguarded",)])))
    d = explore(make_build(spec), scheduler="dfs", properties=[])
    r = explore(make_build(spec), scheduler="dpor", properties=[])
    assert r.outcomes == d.outcomes and len(r.outcomes) == 2
    assert "guarded sections not reduced" in r.note and "without holding g" in r.note


def test_the_interpreter_runs_plain_accesses():
    # A plain write and a plain read under one lock: ordered by it, so both
    # orders are explored and agree; without the lock on the reader's side it
    # is a data race, which both searches report.
    locked = ("own", ((None, [("lock", 0, False, [("pwrite", "a", 2)])]),
                      (None, [("lock", 0, False, [("pread", "a")])])))
    d = explore(make_build(locked), scheduler="dfs", properties=[])
    r = explore(make_build(locked), scheduler="dpor", properties=[])
    assert d.complete and r.complete and d.outcomes == r.outcomes and not r.violations
    reads = {x for o in d.outcomes for x in o[4][1] if isinstance(x, tuple)}
    assert reads == {("a", 0), ("a", 2)}
    assert r.executions == 2
    racy = ("own", ((None, [("lock", 0, False, [("pwrite", "a", 2)])]),
                    (None, [("label",), ("pread", "a")])))
    for scheduler in ("dfs", "dpor"):
        assert has_race(explore(make_build(racy), scheduler=scheduler, properties=[]))


def test_a_declared_read_against_a_declared_write_runs_both_orders_and_is_a_race():
    # The unlocked test of a flag whose writers declare their writes: both orders
    # explored (the footprints), so an unchecked race leaves the search complete; checked,
    # it is a data race in both searches (a declaration synchronises nothing).
    spec = ("own", ((None, [("wuse",), ("pwrite", "a", 2)]), (None, [("use",), ("pread", "a")])))
    d = explore(make_build(spec), scheduler="dfs", properties=[])
    r = explore(make_build(spec), scheduler="dpor", properties=[])
    assert d.complete and r.complete and not r.violations and not has_race(r)
    assert d.outcomes == r.outcomes and r.executions == 2
    reads = {x for o in r.outcomes for x in o[4][1] if isinstance(x, tuple) and x[0] == "a"}
    assert reads == {("a", 0), ("a", 2)}
    for scheduler in ("dfs", "dpor"):
        checked = explore(make_build(spec), scheduler=scheduler, properties=["data-race"])
        assert [v.property for v in checked.violations] == ["data-race"], scheduler
    # A marked read (READ_ONCE) against the plain declared write: no race, both orders run
    # (KCSAN_ASSUME_PLAIN_WRITES_ATOMIC); against a marked write neither.
    for writer in ("wuse", "mwuse"):
        once = ("own", ((None, [(writer,), ("pwrite", "a", 2)]), (None, [("muse",), ("pread", "a")])))
        for scheduler in ("dfs", "dpor"):
            checked = explore(make_build(once), scheduler=scheduler, properties=["data-race"])
            assert checked.complete and not checked.violations and len(checked.outcomes) == 2
    # Undeclared on the writer's side, the same read is a data race, found by both.
    racy = ("own", ((None, [("use",), ("pwrite", "a", 2)]), (None, [("use",), ("pread", "a")])))
    for scheduler in ("dfs", "dpor"):
        assert has_race(explore(make_build(racy), scheduler=scheduler, properties=[]))


def test_plain_accesses_to_different_fields_and_keys_commute():
    spec = ("own", ((None, [("label",), ("pwrite", "a", 1), ("dset", 0, 1)]),
                    (None, [("label",), ("pwrite", "b", 2), ("dset", 1, 2)])))
    r = explore(make_build(spec), scheduler="dpor", properties=[])
    assert r.complete and r.executions == 1 and not r.violations
# -- bounded: dpor under a preemption bound against dfs under the same bound (issue 12 part 4) --

class WroteTwo(Monitor):
    """A violation whenever a write or an rmw leaves 2 in ``x`` (so the bounded searches
    have violations to agree on, reached with some preemptions or none)."""

    name = "wrote-two"

    def on_event(self, world, ev):
        a = ev.action
        if a.op in (actions.WRITE, actions.RMW) and a.obj.name == "x" and a.obj.value == 2:
            world.report(self.name, f"x = 2 after {world.tasks[ev.task].name}'s {a.describe()}",
                         task=ev.task)


@settings(SETTINGS, max_examples=examples(200))
@given(st.one_of(mixed_choice_programs(), mixed_programs()),
       st.sampled_from(["first", "last", "random"]), st.integers(0, 1 << 16))
def test_dpor_on_a_shared_cpu_among_several_finds_what_dfs_finds_in_any_unguided_order(spec, order, seed):
    # Optimal DPOR may start a node no wakeup sequence guides with any enabled step
    # not asleep; with checker.mixed's sections, which one once decided what was
    # found (a choice grouped with the steps after it, docs/design.md "Choices in
    # mixed sections"; a run blocked by a sleeper, whose races were not reversed,
    # "Blocked runs' races", in a program without a choice).  Outcomes, deadlocks
    # and violations must not depend on it.
    assume(interleaving_bound(spec[1]) <= MAX_INTERLEAVINGS)
    bounded_equal(spec, None, OrderedDPOR(order, seed))


def check_bounded(spec, k):
    assume(interleaving_bound(spec[1]) <= MAX_INTERLEAVINGS)
    bounded_equal(spec, k)


def bounded_equal(spec, k, scheduler="dpor"):
    """dfs and ``scheduler`` agree on ``spec`` under preemption bound ``k`` (None: no bound)."""
    build = make_build(spec)
    dfs = explore(build, scheduler="dfs", properties=[WroteTwo()], preemption_bound=k, stop_on_violation=False)
    dpor = explore(build, scheduler=scheduler, properties=[WroteTwo()], preemption_bound=k,
                   stop_on_violation=False)
    raced = has_race(dfs)
    assert has_race(dpor) == raced, f"bound {k}: dfs race {raced}, dpor race {has_race(dpor)}"
    if raced:
        assert not dpor.complete and "data race" in dpor.reason
        return
    assert dfs.complete and dpor.complete, dpor.reason
    assert dpor.outcomes == dfs.outcomes, (
        f"bound {k}: missed {dfs.outcomes - dpor.outcomes}, invented {dpor.outcomes - dfs.outcomes}")
    assert (dpor.deadlocks > 0) == (dfs.deadlocks > 0)
    assert {(v.property, v.message) for v in dpor.violations} == {(v.property, v.message) for v in dfs.violations}
    assert dpor.executions <= dfs.executions
    if k is None:
        return
    assert all(sum(1 for s in v.steps if s.preemption) <= k for v in dpor.violations)
    if dpor.bound_cut == 0:
        # "The bound cut nothing" is exact: every execution was reached within it.
        assert dpor.outcomes == explore(build, scheduler="dfs", properties=[]).outcomes


@settings(SETTINGS, max_examples=examples(150))
@given(programs().filter(shares_a_cpu), st.integers(0, 2))
def test_bounded_dpor_finds_exactly_what_bounded_dfs_finds(spec, k):
    check_bounded(spec, k)


@settings(SETTINGS, max_examples=examples(40))
@given(programs().filter(lambda s: not shares_a_cpu(s)), st.integers(0, 1))
def test_bounded_dpor_without_cpu_sharing_is_plain_dpor(spec, k):
    check_bounded(spec, k)


@settings(SETTINGS, max_examples=examples(100))
@given(programs().filter(shares_a_cpu))
def test_auto_bound_finds_the_fewest_preemptions_dfs_finds(spec):
    from checker.bounded import explore_auto_bound
    assume(interleaving_bound(spec[1]) <= MAX_INTERLEAVINGS)
    build = make_build(spec)
    dfs = explore_auto_bound(build, scheduler="dfs", properties=[WroteTwo()])
    dpor = explore_auto_bound(build, scheduler="dpor", properties=[WroteTwo()])
    assume(not has_race(dfs) and not has_race(dpor))   # racy programs: bounded_equal
    assert bool(dpor.violations) == bool(dfs.violations)
    if dfs.violations:
        assert dpor.preemption_bound == dfs.preemption_bound        # the fewest preemptions
        assert dpor.bound_covered == dfs.bound_covered
    else:
        assert dpor.complete and dfs.complete and dpor.outcomes == dfs.outcomes


def test_two_traces_whose_events_hash_alike_stay_apart():
    # Found by this suite: a choice of 0 then 1 and of 1 then 0 gave trace digests that
    # met when Python's hash() of the events was added up (hash(None) varies by process).
    spec = ("one", ((0, [("read", "x")]), (0, [("read", "x"), ("read", "x"), ("choose", [], [("read", "x")]),
                                                ("choose", [], [("read", "x")])])))
    for k in (0, 1):
        bounded_equal(spec, k)


def test_the_bound_example_of_the_literature_is_explored_exactly():
    # Two tasks on one CPU, the second needing one preemption to see x = 1 (torn pair):
    # a bound of 0 must miss it, 1 must find it, dpor and dfs alike.
    spec = ("one", ((None, [("write", "x", 1), ("write", "x", 2)]), (None, [("read", "x")])))
    for k, seen in ((0, {0, 2}), (1, {0, 1, 2})):
        for sched in ("dfs", "dpor"):
            r = explore(make_build(spec), scheduler=sched, properties=[], preemption_bound=k)
            assert {o[4][1][0] for o in r.outcomes} == seen, (sched, k, r.outcomes)


def test_a_race_around_sections_the_search_commutes_is_found_by_both():
    # Found by 1,500 random programs: two read-only guarded sections, plain writes
    # before one and after the other; dpor's detector ordered them by the lock.
    spec = ("own", ((None, [("dset", 1, 2), ("guarded", "read"), ("trylock", 2, True, [])]),
                    (None, [("guarded", "read"), ("get",), ("dset", 1, 2)])))
    dfs = explore(make_build(spec), scheduler="dfs", properties=[], stop_on_violation=False)
    dpor = explore(make_build(spec), scheduler="dpor", properties=[], stop_on_violation=False)
    assert has_race(dfs) and has_race(dpor) and not dpor.complete


# Found by bench/fuzz_dpor.py seed 52 (program 95, shrunk): a section that waits inside
# went through when it ran first; after the writer's rmw it stays stuck.  Asleep
# with the footprint of its first shape, it hid the spinner's reversal (docs/design.md).
def test_a_spin_inside_a_section_on_one_cpu_with_a_spinner():
    from bench.fuzz_dpor import mkbuild
    spec = {"tasks": [([("w", 0, 2), ("rmw", 0, 0)], 0), ([("lock", 0, True, 3)], 0),
                      ([("r", 0, 2), ("spin", 0, 0)], 0)], "ncpu": 1, "nvars": 1, "lockkinds": ["rw"]}
    dfs = explore(mkbuild(spec), scheduler="dfs", properties=[], stop_on_violation=False)
    dpor = explore(mkbuild(spec), scheduler="dpor", properties=[], stop_on_violation=False)
    assert dfs.complete and dpor.complete
    assert dpor.outcomes == dfs.outcomes


@pytest.mark.parametrize("first", ["section", "label"])
def test_a_section_that_never_ends_strands_an_invisible_step_of_its_cpu(first):
    # One CPU: a task whose section spins for ever, and a task with one label.  The
    # label is independent of the section's start by footprint, but run after it, it
    # never runs at all (the CPU is held for good): a different outcome, which dpor
    # must reach in either task order (found by the PREEMPT_RT differential test).
    section = (0, [("preempt", [("spin", "x", "==", 1)])])
    label = (0, [("label",)])
    spec = ("one", (section, label) if first == "section" else (label, section))
    dfs = explore(make_build(spec), scheduler="dfs", properties=[], stop_on_violation=False)
    dpor = explore(make_build(spec), scheduler="dpor", properties=[], stop_on_violation=False)
    assert dfs.complete and dpor.complete
    assert dpor.outcomes == dfs.outcomes and len(dfs.outcomes) == 2


# Found by bench/fuzz_dpor.py --parts seed 50 (program 41, shrunk): a choice that touches
# nothing, made before its CPU mate's section that ends and the one that never does.  Its
# CPU edge to the first section is no race (the two orders are one trace), and through it
# the never-ending one looked ordered after the choice: no order ran the sections first,
# so the outcome where the chooser never ran (stranded before its choice) was missed.
def test_a_section_that_never_ends_strands_a_choice_made_before_another_section():
    from bench.fuzz_dpor import mkbuild
    spec = {"tasks": [([("lock", 0, True, 3), ("pd", 3)], 0), ([("choose", 1)], 0), ([("choose", 0)], 1)],
            "ncpu": 2, "nvars": 2, "lockkinds": ["spin"]}
    dfs = explore(mkbuild(spec), scheduler="dfs", properties=[], stop_on_violation=False)
    dpor = explore(mkbuild(spec), scheduler="dpor", properties=[], stop_on_violation=False)
    assert dfs.complete and dpor.complete
    assert dpor.outcomes == dfs.outcomes


# Found by bench/fuzz_dpor.py --mixed --parts --order all, seed 71 (program 4): with the
# unguided steps taken in reverse order ("last"), dpor missed one of dfs's 107 outcomes (T1's
# trylock before T0's, T3's decrement after T1's write, T2 stranded).  A branch inserted for a
# race by CPU ownership (T3's step and T1's failed trylock, same CPU) ran into T3's sleeping
# step: a sleep-set blocked run, whose races were not reversed, and the one that put T1's
# trylock first in that subtree was among them.  Optimal DPOR may take any step not asleep, so
# the outcomes must not depend on the order.
def test_the_unguided_order_does_not_change_the_outcomes_of_a_mixed_program():
    from bench.fuzz_dpor import OrderedDPOR, mkbuild
    spec = {"tasks": [([("w", 0, 2), ("ptry", 0, "a", 1)], 0), ([("try", 0, True, 2), ("spin", 0, 1)], 1),
                      ([("spin", 0, 2), ("pif", 0, "b", 0)], 0), ([("dec", 1, 0)], 1)],
            "ncpu": 2, "nvars": 2, "lockkinds": ["rw"], "parts": True}
    dfs = explore(mkbuild(spec), scheduler="dfs", properties=[], stop_on_violation=False)
    assert dfs.complete
    for order in ("dpor", "first", "last"):
        sched = "dpor" if order == "dpor" else OrderedDPOR(order, 0)
        got = explore(mkbuild(spec), scheduler=sched, properties=[], stop_on_violation=False)
        assert got.outcomes == dfs.outcomes, order
