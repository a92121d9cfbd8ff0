"""Differential fuzzing of dpor against dfs on random small programs (long runs; not a test).

Each program has 2-3 tasks of 1-4 items (reads, writes, rmw, cmpxchg, spin_until,
lock sections on spinlocks, mutexes and rwlocks, trylocks, choices, preempt
sections with spins inside, sleeps, and plain accesses with no yield to the
fields of a shared struct and the keys of a shared dict living in a
refcounted page) on one CPU, two CPUs or one CPU each.  dpor must find exactly
dfs's outcomes and deadlock answer, in no more executions; without choices,
sleeps and deadlocks on a shared CPU, with no redundant run.  The CI's Hypothesis test (tests/test_engine_differential.py)
covers the same ground with smaller budgets.

    python -m bench.fuzz_dpor --seed 0 --programs 300
    python -m bench.fuzz_dpor --seed 5 --programs 400 --no-choose
    python -m bench.fuzz_dpor --seed 0 --programs 300 --bound 1
    python -m bench.fuzz_dpor --seed 0 --programs 300 --mixed     # several tasks per CPU, two CPUs
    python -m bench.fuzz_dpor --seed 0 --programs 300 --mixed --order all
    python -m bench.fuzz_dpor --seed 0 --programs 300 --parts      # Obj.parts, a put's free check

With ``--order first``, ``last``, ``random`` or ``all`` (those and dpor's own,
a pending choice first), dpor starts each node no wakeup sequence guides with
the enabled steps in that order: optimal DPOR may take any that is not
asleep, so the outcomes must not change (:class:`OrderedDPOR`).

With ``--bound K`` the comparison is under a preemption bound: dpor (trace
states, cheapest first) against dfs, both bounded by K = 0..K: the same
outcomes, deadlock answer and violations (a write of 2 to v0 is one), and,
where dpor says the bound cut nothing, dfs's unbounded outcomes.  Then
``--preemption-bound auto``: the same fewest preemptions.
"""

import argparse
import random
import sys
import zlib
from dataclasses import dataclass

from checker import (
    Monitor,
    Mutex,
    Program,
    RwLock,
    SharedDict,
    SpinLock,
    Task,
    Obj,
    Var,
    choose,
    explore,
    label,
    preempt_disable,
    preempt_enable,
    shared_struct,
    sleep,
)
from checker.errors import InternalError
from checker.schedulers.dpor import DPOR

ORDERS = ("dpor", "first", "last", "random")


class OrderedDPOR(DPOR):
    """dpor starting a node no wakeup sequence guides with the enabled steps taken
    in another order (:meth:`DPOR._unguided`): ``"dpor"`` (its own: a pending
    choose() first), ``"first"`` (by task), ``"last"`` (reversed) or
    ``"random"`` (shuffled, from ``seed``).  Optimal DPOR may take any step not
    asleep, so the outcomes must not depend on it."""

    def __init__(self, order="first", seed=0):
        self.order = order
        self.rng = random.Random(seed)
        DPOR.__init__(self)

    def reset(self) -> None:
        # DPOR.reset through DPOR's own __init__; the order and its random stream go on.
        DPOR.__init__(self, self.prefix, trace_keys=self.keys is not None, guards=False)

    def _unguided(self, world, enabled):
        if self.order == "dpor":
            return DPOR._unguided(world, enabled)
        if self.order == "last":
            return enabled[::-1]
        if self.order == "random":
            enabled = list(enabled)
            self.rng.shuffle(enabled)
        return enabled

KINDS = ["r", "w", "rmw", "cas", "spin", "lock", "try", "pd", "sleep", "choose", "inc", "dec", "get",
         "put", "use", "wait", "gsec", "gsec", "gbad", "map", "pr", "pw", "plock", "ptry", "pif"]
PLAIN = ("pr", "pw")
# --parts: a declared access of a permanent descriptor (fields w, c) or of its part
# (field c, Obj.parts), then maybe a plain access of either field; puts run a free
# check that reads w (the model's page descriptor, its chain words, free_pages_prepare).
PARTS = ["duse", "cuse", "duse", "cuse"]
# --retry: retry loops whose rounds give back what they take (checker.retryloop): a
# trylock retried, a lock/read/unlock round, a failed cmpxchg under preempt_disable; and
# a plain re-read (checker.spinloop).
RETRY = ["retry", "retry"]


@shared_struct(owner="desc", owners={"c": "part"})
@dataclass(slots=True, eq=False)
class Desc:
    """A never-freed descriptor whose field ``c`` lives in a part of its own."""

    desc: Obj
    part: Obj
    w: int = 0
    c: int = 0


@shared_struct(owner="owner")
@dataclass(slots=True, eq=False)
class Mem:
    """Plain shared memory in the refcounted page: two fields and a dict."""

    owner: Obj
    a: int = 0
    b: int = 0
    d: SharedDict = None


def _plain(mem, op, ti, out):
    """A plain access (no yield): it belongs to the step before it."""
    field, what = op[1], op[2]
    if what == 0:
        out.append((field, getattr(mem, field)))
    elif what == 1:
        setattr(mem, field, ti + 500)
    elif what == 2:
        out.append(("d", mem.d.get(field)))
    else:
        mem.d[field] = ti + 600

def gen_prog(rng, mixed=False, parts=False, retry=False):
    """A random program; ``mixed``: 3-4 tasks on two CPUs, each CPU with a task
    and one with two or more (several tasks per CPU and several CPUs); ``parts``:
    with the descriptor and its part (:data:`PARTS`)."""
    kinds = KINDS + PARTS if parts else KINDS
    if retry:
        kinds = kinds + RETRY
    ntasks = rng.randint(3, 4) if mixed else rng.randint(2, 3)
    ncpu = 2 if mixed else rng.choice([1, 2, None])
    nvars = rng.randint(1, 2)
    nlocks = rng.randint(1, 2)
    lockkinds = [rng.choice(["spin", "mutex", "rw"]) for _ in range(nlocks)]
    tasks = []
    for t in range(ntasks):
        ops = []
        for _ in range(rng.randint(1, 4)):
            k = rng.choice(kinds)
            if k in ("r", "w", "rmw", "cas", "spin", "inc", "dec"):
                ops.append((k, rng.randrange(nvars), rng.randint(0, 2)))
            elif k in ("lock", "try"):
                ops.append((k, rng.randrange(nlocks), rng.choice([True, False]), rng.randint(0, 3)))
            elif k == "choose":
                ops.append((k, rng.randrange(nvars)))
            elif k == "wait":
                ops.append((k, rng.randrange(nlocks)))
            elif k == "gsec":
                ops.append((k, rng.choice(["add", "sub", "read", "write", "spin-in"])))
            elif k in ("get", "put", "use", "map"):
                ops.append((k, rng.choice([False, True])))
            elif k == "pd":
                ops.append((k, rng.randint(0, 3)))
            elif k in PLAIN:
                ops.append((k, rng.choice(["a", "b"]), rng.choice([0, 2]) if k == "pr" else rng.choice([1, 3])))
            elif k in ("duse", "cuse"):
                ops.append((k, rng.choice([False, True]), rng.choice(["", "", "w", "c"])))
            elif k == "plock":
                ops.append((k, rng.randrange(nlocks), rng.choice(["a", "b"]), rng.randint(0, 3)))
            elif k == "retry":
                ops.append((k, rng.randrange(nlocks), rng.choice(["try", "locked", "cas", "read"]),
                            rng.randrange(nvars)))
            elif k in ("ptry", "pif"):
                ops.append((k, rng.randrange(nlocks) if k == "ptry" else rng.randrange(nvars),
                            rng.choice(["a", "b"]), rng.randint(0, 3)))
            else:
                ops.append((k,))
        cpu = (t % 2 if t < 2 else rng.randrange(2)) if mixed else rng.randrange(ncpu) if ncpu else None
        tasks.append((ops, cpu))
    # Half the programs declare that the count keeps the page alive: a task's read
    # after its own get then commutes with the others' puts (checker/refs.py).  Not
    # drawn from rng, so that a seed gives the programs it gave before.
    keeps = zlib.crc32(repr(tasks).encode()) % 2 == 0
    return {"tasks": tasks, "ncpu": ncpu, "nvars": nvars, "lockkinds": lockkinds, "parts": parts,
            "keeps": keeps}

def mkbuild(spec):
    def build():
        vs = [Var(f"v{i}", 0) for i in range(spec["nvars"])]
        # A refcounted object (put_page): 2 references, freed by the last put.
        page = Obj("page")
        ref = Var("ref", 2, counter=True, keeps=page if spec.get("keeps") else None)
        mem = Mem(page, d=SharedDict({"a": 0}))
        part = Obj("part", permanent=True)
        dsc = Desc(Obj("desc", permanent=True, parts=(part,)), part)
        # A lock and the counter it guards (the guarded-sections reduction).
        g = SpinLock("g")
        gv = Var("gv", 0, counter=True, guard=g)
        ls = []
        for i, k in enumerate(spec["lockkinds"]):
            ls.append({"spin": SpinLock, "mutex": Mutex, "rw": RwLock}[k](f"l{i}"))
        locals_ = []
        def mk(ops, ti):
            def body(ops, out):
                for op in ops:
                    k = op[0]
                    if k in PLAIN:
                        _plain(mem, op, ti, out)
                        continue
                    if k == "plock":
                        # plain accesses under a lock, right after the acquire
                        lk = ls[op[1]]
                        yield lk.acquire()
                        _plain(mem, ("p", op[2], op[3]), ti, out)
                        yield lk.release()
                        continue
                    if k == "ptry":
                        # a trylock whose success path touches plain memory: the
                        # step's footprint depends on its result
                        lk = ls[op[1]]
                        if (yield lk.try_acquire()):
                            _plain(mem, ("p", op[2], op[3]), ti, out)
                            yield lk.release()
                        else:
                            out.append("busy")
                        continue
                    if k == "retry":
                        lk, shape, v = ls[op[1]], op[2], vs[op[3]]
                        while True:
                            if shape == "try":
                                if (yield lk.try_acquire()):
                                    yield v.write(ti + 400)
                                    yield lk.release()
                                    break
                            elif shape == "locked":
                                yield lk.acquire()
                                seen = yield v.read()
                                yield lk.release()
                                if seen != 0:
                                    out.append(seen)
                                    break
                            elif shape == "read":       # a plain re-read (checker.spinloop)
                                seen = yield v.read()
                                if seen != 0:
                                    out.append(seen)
                                    break
                            else:
                                yield preempt_disable()
                                seen = yield v.cmpxchg(1, 9)
                                yield preempt_enable()
                                if seen == 1:
                                    break
                            yield label("cpu_relax")
                        continue
                    if k == "pif":
                        # a read whose value decides a plain access in the same step
                        if (yield vs[op[1]].read()) == 0:
                            _plain(mem, ("p", op[2], op[3]), ti, out)
                        continue
                    if k == "r":
                        out.append((yield vs[op[1]].read()))
                    elif k == "w":
                        yield vs[op[1]].write(op[2] + ti * 10)
                    elif k == "rmw":
                        out.append((yield vs[op[1]].rmw(lambda v: v + 1)))
                    elif k == "cas":
                        out.append((yield vs[op[1]].cmpxchg(op[2], op[2] + 5)))
                    elif k == "gsec":
                        yield g.acquire()
                        if op[1] == "read":
                            out.append((yield gv.read()))
                        elif op[1] == "write":
                            yield gv.write(ti + 400)
                        elif op[1] == "spin-in":
                            # an unguarded wait inside the section ends the step
                            out.append((yield vs[0].spin_until(lambda v: v % 2 == 0)))
                            yield gv.add(1)
                        else:
                            yield gv.add(1 if op[1] == "add" else -1)
                        yield g.release()
                    elif k == "map":
                        # a mapping: what a put that frees sees (freed while mapped)
                        yield page.pin()
                        at_pin = page.alive
                        if op[1]:
                            yield page.access()
                        yield page.unpin()
                        out.append(("mapped", at_pin, page.alive))
                    elif k == "gbad":
                        out.append((yield gv.read()))       # breaks the declaration
                    elif k == "wait":
                        yield ls[op[1]].wait_unlocked()
                        out.append("waited")
                    elif k in ("inc", "dec"):
                        yield vs[op[1]].add(1 if k == "inc" else -1)
                    elif k == "get":
                        yield ref.add(1)
                        if op[1]:
                            yield vs[0].add(1)      # a plain (non-counter) addition
                    elif k in ("duse", "cuse"):
                        yield (dsc.desc if k == "duse" else part).access(write=op[1])
                        if op[2] and op[1]:
                            setattr(dsc, op[2], ti + 700)   # "cuse" then w: not declared
                        elif op[2]:
                            out.append((op[2], getattr(dsc, op[2])))
                    elif k == "put":
                        if spec.get("parts"):
                            yield ref.add(-1, frees=page, on_free=lambda: out.append(("check", dsc.w)))
                        else:
                            yield ref.add(-1, frees=page)
                        if op[1]:
                            out.append((yield ref.read()))
                    elif k == "use":
                        if op[1]:
                            yield page.access(write=True)
                        else:
                            out.append((yield page.access()) or page.alive)
                    elif k == "spin":
                        out.append((yield vs[op[1]].spin_until(lambda v, c=op[2]: v != c)))
                    elif k == "lock":
                        lk = ls[op[1]]
                        sh = op[2] and lk.rw
                        yield lk.acquire(shared=sh)
                        if op[3] == 1:
                            out.append((yield vs[0].read()))
                        elif op[3] == 2:
                            yield vs[0].write(ti + 100)
                        elif op[3] == 3:
                            out.append((yield vs[-1].spin_until(lambda v: v % 2 == 0)))
                        yield lk.release()
                    elif k == "try":
                        lk = ls[op[1]]
                        ok = yield lk.try_acquire()
                        out.append(ok)
                        if ok:
                            if op[3]:
                                yield vs[-1].write(ti + 200)
                            yield lk.release()
                    elif k == "choose":
                        c = yield choose([0, 1])
                        out.append(c)
                        if c:
                            yield vs[op[1]].write(77)
                    elif k == "pd":
                        yield preempt_disable()
                        if op[1] == 1:
                            yield vs[0].write(ti + 300)
                        elif op[1] == 2:
                            out.append((yield vs[-1].read()))
                        elif op[1] == 3:
                            # a spin inside a section: stuck for good if the CPU's
                            # other task was preempted before it made v even
                            out.append((yield vs[0].spin_until(lambda v: v % 2 == 0)))
                        yield preempt_enable()
                    else:
                        yield sleep()
            def t():
                out = []
                locals_.append((ti, out))
                if ops and ops[0][0] in PLAIN:
                    yield label("start")        # a task's first step must be an action
                yield from body(ops, out)
            return t
        tasks = [Task(mk(ops, i), name=f"T{i}", cpu=cpu) for i, (ops, cpu) in enumerate(spec["tasks"])]
        return Program(tasks, cpus=spec["ncpu"], observe=lambda: (tuple(v.value for v in vs), ref.value, page.alive, gv.value, tuple(sorted((a, tuple(b)) for a, b in locals_)), mem.a, mem.b, tuple(sorted(mem.d.items())), dsc.w, dsc.c))
    return build

def _raced(r) -> bool:
    return r.races > 0 or any(v.property == "data-race" for v in r.violations)


def _shares_a_cpu(spec) -> bool:
    cpus = [cpu for _, cpu in spec["tasks"]]
    return spec["ncpu"] == 1 or len(set(cpus)) < len(cpus)


class _WroteTwo(Monitor):
    name = "wrote-two"

    def on_event(self, world, ev):
        a = ev.action
        if a.name in ("write", "rmw") and a.obj.name == "v0" and a.obj.value == 2:
            world.report(self.name, f"v0 = 2 by {world.tasks[ev.task].name}", task=ev.task)


def _bounded(it, spec, bound) -> int:
    """Bounded dpor against bounded dfs at bounds 0..bound; the number of mismatches."""
    from checker.bounded import explore_auto_bound
    b = mkbuild(spec)
    bad = 0
    try:
        every = explore(b, scheduler="dfs", properties=[], max_executions=200000)
        if not every.complete:
            return 0
        for k in range(bound + 1):
            a = explore(b, scheduler="dfs", properties=[_WroteTwo()], preemption_bound=k, stop_on_violation=False)
            d = explore(b, scheduler="dpor", properties=[_WroteTwo()], preemption_bound=k,
                        stop_on_violation=False)
            va = {(v.property, v.message) for v in a.violations}
            vd = {(v.property, v.message) for v in d.violations}
            if (a.outcomes != d.outcomes or (a.deadlocks > 0) != (d.deadlocks > 0) or va != vd
                    or (d.bound_cut == 0 and d.outcomes != every.outcomes)):
                bad += 1
                print("MISMATCH", it, "bound", k, spec)
                print("  dfs", a.executions, len(a.outcomes), "dpor", d.executions, len(d.outcomes), d.bound_cut)
        fa = explore_auto_bound(b, scheduler="dfs", properties=[_WroteTwo()])
        fd = explore_auto_bound(b, scheduler="dpor", properties=[_WroteTwo()])
        if bool(fa.violations) != bool(fd.violations) or (fa.violations and fa.preemption_bound != fd.preemption_bound):
            bad += 1
            print("AUTO MISMATCH", it, spec, fa.preemption_bound, fd.preemption_bound)
    except InternalError as ex:
        print("INTERNAL", it, ex, spec)
        bad += 1
    return bad


def main(argv=None) -> int:
    global KINDS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--programs", type=int, default=300)
    ap.add_argument("--start", type=int, default=0, metavar="N",
                    help="skip the programs before N (generated all the same: N is the number a run prints)")
    ap.add_argument("--no-choose", action="store_true", help="programs without choose()")
    ap.add_argument("--mixed", action="store_true",
                    help="3-4 tasks on two CPUs, both used, at least one shared (checker.mixed)")
    ap.add_argument("--parts", action="store_true",
                    help="with a descriptor and its part (Obj.parts) and a put's free check reading it")
    ap.add_argument("--retry", action="store_true",
                    help="with retry loops (checker.retryloop), which only a wait ends")
    ap.add_argument("--order", choices=ORDERS + ("all",), default="dpor",
                    help="how dpor takes the enabled steps of an unguided node (OrderedDPOR)")
    ap.add_argument("--quiet", action="store_true",
                    help="no line per program (by default each program's counts are printed as it ends, "
                         "so a run stopped by a timeout still shows how far it got)")
    ap.add_argument("--bound", type=int, default=None, metavar="K",
                    help="compare bounded dpor with bounded dfs at bounds 0..K")
    args = ap.parse_args(argv)
    if args.no_choose:
        KINDS = [k for k in KINDS if k != "choose"]
    rng = random.Random(args.seed)
    orders = ORDERS if args.order == "all" else (args.order,)
    bad = races = 0
    for it in range(args.programs):
        spec = gen_prog(rng, args.mixed, args.parts, args.retry)
        if it < args.start:
            continue
        if args.bound is not None:
            bad += _bounded(it, spec, args.bound)
            continue
        b = mkbuild(spec)
        try:
            a = explore(b, scheduler="dfs", properties=[], max_executions=200000, stop_on_violation=False)
            ds = [(o, explore(b, scheduler="dpor" if o == "dpor" else OrderedDPOR(o, args.seed * 100003 + it),
                              properties=[], stop_on_violation=False)) for o in orders]
        except InternalError as ex:
            print("INTERNAL", it, ex, spec)
            bad += 1
            continue
        if not args.quiet:
            print(f"program {it}: dfs {a.executions}, dpor " +
                  ", ".join(f"{o} {d.executions}" for o, d in ds) + f"; {bad} mismatch(es) so far", flush=True)
        if not a.complete and not _raced(a):
            continue
        for o, d in ds:
            bad += _compare(it, spec, a, d, o)
            races += o == ds[0][0] and _raced(a) and _raced(d)
    print(f"{args.programs - args.start} programs, {bad} mismatch(es), {races} with a data race (both found it)")
    return 1 if bad else 0


def _compare(it, spec, a, d, order) -> int:
    """dfs's result ``a`` against dpor's ``d`` (unguided order ``order``): 1 if they differ."""
    # Actions only are ordered: complete for race-free plain accesses, and a
    # race must be reported by dpor exactly when dfs meets one.
    ra, rd = _raced(a), _raced(d)
    if ra != rd:
        print("RACE MISMATCH", it, order, spec, "dfs", ra, "dpor", rd)
        return 1
    if ra:
        return 0
    # Choices, invisible steps (sleep) on a shared CPU, and a section that
    # never ends on a shared CPU may cost sleep-set blocked runs
    # (docs/design.md); nothing else may.
    may_block = (any(op[0] in ("choose", "sleep") for ops, _ in spec["tasks"] for op in ops)
                 or (a.deadlocks > 0 and _shares_a_cpu(spec)))
    if (a.outcomes != d.outcomes or (a.deadlocks > 0) != (d.deadlocks > 0)
            or d.executions > a.executions
            or (d.redundant and not may_block)
            or (d.executions + d.redundant > a.executions and not may_block)):
        print("MISMATCH", it, order, spec)
        print("  dfs", a.executions, a.deadlocks, "dpor", d.executions, d.deadlocks, d.redundant)
        print("  missing", len(a.outcomes - d.outcomes), "extra", len(d.outcomes - a.outcomes))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
