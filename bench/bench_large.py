"""Large pools: time for each sampler to find each mutation (issue 6; docs/sampling.md).

The exhaustive search cannot finish on the large-pool scenarios (model/large.py),
so the samplers must find every seeded bug there.  For every expressible
mutation of model.registry.MUTATIONS this runs, on the ``large`` scenario:

* ``pct d=2``, ``pct d=3``: PCT with that bug depth;
* ``random``: uniformly random schedules;
* ``hypothesis``: the Hypothesis search, drawing the family parameters
  (classes, zspages, objects, tasks, CPUs) and then the schedule; not shrunk,
  since the time to the first failure is what is measured;
* ``machine``: the state machine of model/stateful.py on the scenario's pool
  (what ``zsmc check --scheduler hypothesis`` runs, without drawing the pool),
  Hypothesis choosing the operations and the scheduling; not shrunk either;

each with only the mutation's expected property checked (none for a model
BUG_ON, which is always reported), until it finds that property or the time
limit runs out.  A violation of another property, or a ModelError (a mutation
can unlock a lock it does not hold), does not count: the run goes on with the
next seed.  Each run is a subprocess killed a few seconds after its
limit, so one stuck run cannot hang the bench.  Prints a Markdown table of
time-to-find (seconds, executions or Hypothesis examples) per scheduler.

    python -m bench.bench_large                   # every mutation, 60 s per run
    python -m bench.bench_large --quick           # a handful of mutations, 10 s per run
    python -m bench.bench_large --mutation compact-keeps-src --jobs 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

if __package__ in (None, ""):     # run as a script: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from checker import ModelError, explore
from checker.schedulers.pct import PCT
from checker.schedulers.random import RandomScheduler
from model.registry import MUTATIONS, make_build, variant_for

SCHEDULERS = ("pct d=2", "pct d=3", "random", "hypothesis", "machine")
QUICK = ("compact-keeps-src", "free-without-page-locks", "read-end-unlock-first",
         "async-free-no-stat", "sleeping-class-lock")
CHUNK = 1000          # executions (examples) per seed before the next seed
SLACK = 15            # seconds a child may overrun its limit before it is killed


def properties_for(expected: str) -> list:
    """``[]`` for a model BUG_ON (reported whatever the monitors), else just the expected one."""
    return [] if expected == "bug" else [expected]


def run_one(mutation: str, scheduler: str, scenario: str, depth: int, limit: float, seed: int) -> dict:
    """Search until ``mutation``'s property is violated or ``limit`` seconds pass (in this process)."""
    m = MUTATIONS[mutation]
    cls = variant_for(m.base, mutation)
    props = properties_for(m.expected_property)
    start = time.perf_counter()
    deadline = start + limit
    count = 0
    other = []
    while time.perf_counter() < deadline:
        if scheduler == "hypothesis":
            found, n = _hypothesis_chunk(cls, depth, props, seed)
        elif scheduler == "machine":
            found, n = machine_chunk(cls, scenario, props, seed, CHUNK // 10)
        else:
            build, _ = make_build(cls, scenario, depth)
            sched = (RandomScheduler(CHUNK, seed=seed) if scheduler == "random"
                     else PCT(int(scheduler[-1]), CHUNK, seed=seed))
            try:
                r = explore(build, scheduler=sched, properties=props, stop_on_violation=True,
                            time_limit=max(deadline - time.perf_counter(), 0.01), seed=seed)
                found, n = [v.property for v in r.violations], r.executions
            except ModelError:    # a mutation can break the engine's lock contract (bad unlock)
                found, n = ["ModelError"], sched.runs
        count += n
        if m.expected_property in found:     # a Hypothesis run may end past the limit
            seconds = time.perf_counter() - start
            return {"found": seconds <= limit, "late": seconds > limit, "seconds": seconds,
                    "count": count, "seed": seed, "other": other}
        other.extend(p for p in found if p not in other)
        seed += 1
    return {"found": False, "seconds": time.perf_counter() - start, "count": count, "other": other}


def _hypothesis_chunk(cls, depth, props, seed):
    """One Hypothesis run of at most CHUNK / 10 examples over drawn family parameters."""
    from checker.hypothesis_search import hypothesis_search
    from model.large import draw_build

    def draw_large(data):
        return draw_build(data, cls, depth)[0]

    # A Hypothesis run has no time limit: small runs keep the overrun of the limit short.
    out = hypothesis_search(draw_large, max_examples=CHUNK // 10, seed=seed, properties=props,
                            database=False, shrink=False)
    found = [out.violation.property] if out.violation else []
    return found, out.examples


def machine_chunk(cls, scenario, props, seed, examples):
    """One run of the state machine on ``scenario``'s pool: ``(properties violated, examples)``.

    Generation only (no shrinking, no database), ``examples`` examples at most."""
    from hypothesis import HealthCheck, Phase, Verbosity, settings
    from hypothesis import seed as fixed_seed
    from hypothesis.stateful import run_state_machine_as_test

    from model.stateful import ZsmallocMachine, ZsmcViolation
    runs = [0]

    class Machine(ZsmallocMachine):
        variant, trace_dir, properties = cls, None, props

        def __init__(self):
            super().__init__()
            runs[0] += 1

    Machine.scenario = scenario
    try:
        run_state_machine_as_test(fixed_seed(seed)(Machine), settings=settings(
            max_examples=examples, phases=[Phase.generate], database=None, deadline=None,
            suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet))
    except ZsmcViolation as exc:
        return [exc.violation.property], runs[0]
    except ModelError:
        return ["ModelError"], runs[0]
    return [], runs[0]


def run_child(mutation, scheduler, scenario, depth, limit, seed) -> dict:
    """``run_one`` in a subprocess, killed ``SLACK`` seconds after its limit."""
    cmd = [sys.executable, "-m", "bench.bench_large", "--child", "--mutation", mutation,
           "--scheduler", scheduler, "--scenario", scenario, "--depth", str(depth),
           "--limit", str(limit), "--seed", str(seed)]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        p = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=limit + SLACK, cwd=root)
    except subprocess.TimeoutExpired:
        return {"found": False, "seconds": limit + SLACK, "count": None, "other": [], "error": "killed"}
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return {"found": False, "seconds": 0, "count": None, "other": [], "error": tail}
    return json.loads(p.stdout.strip().splitlines()[-1])


def cell(r: dict, scheduler: str, limit: float) -> str:
    what = "examples" if scheduler in ("hypothesis", "machine") else "exec"
    if r.get("error"):
        return f"error: {r['error'][:60]}"
    if r["found"]:
        return f"{r['seconds']:.1f} s ({r['count']:,} {what})"
    if r.get("late"):
        return f"not found in {limit:g} s (found at {r['seconds']:.0f} s, {r['count']:,} {what})"
    extra = f"; saw {', '.join(r['other'])}" if r["other"] else ""
    count = f", {r['count']:,} {what}" if r["count"] is not None else ""
    return f"not found in {limit:g} s{count}{extra}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=f"only {len(QUICK)} mutations, 10 s per run")
    ap.add_argument("--mutation", action="append", help="only this mutation (repeatable)")
    ap.add_argument("--scheduler", action="append", choices=SCHEDULERS, help="only this scheduler")
    ap.add_argument("--scenario", default="large", help="a large-family scenario (default: large)")
    ap.add_argument("--depth", type=int, default=2, help="client operations / background rounds")
    ap.add_argument("--limit", type=float, default=None, help="seconds per run (default 60, quick 10)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1, help="runs in parallel (each one process)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    limit = a.limit or (10.0 if a.quick else 60.0)
    if a.child:
        r = run_one(a.mutation[0], a.scheduler[0], a.scenario, a.depth, limit, a.seed)
        print(json.dumps(r))
        return 0
    expressible = sorted(n for n, m in MUTATIONS.items() if m.expressible)
    names = a.mutation or (list(QUICK) if a.quick else expressible)
    unknown = [n for n in names if n not in expressible]
    if unknown:
        ap.error(f"not an expressible mutation: {', '.join(unknown)}")
    scheds = a.scheduler or list(SCHEDULERS)
    runs = [(n, s) for n in names for s in scheds]
    def one(run):
        r = run_child(*run, a.scenario, a.depth, limit, a.seed)
        print(f"{run[0]:45} {run[1]:11} {cell(r, run[1], limit)}", file=sys.stderr, flush=True)
        return r

    with ThreadPoolExecutor(max(a.jobs, 1)) as pool:
        results = list(pool.map(one, runs))
    table = dict(zip(runs, results, strict=True))
    print(f"scenario {a.scenario}, depth {a.depth}, seed {a.seed}, limit {limit:g} s per run, "
          f"{a.jobs} job(s)\n")
    print("| mutation (base, property) | " + " | ".join(scheds) + " |")
    print("|---|" + "---|" * len(scheds))
    for n in names:
        m = MUTATIONS[n]
        row = [cell(table[n, s], s, limit) for s in scheds]
        print(f"| {n} ({m.base}, {m.expected_property}) | " + " | ".join(row) + " |")
    missed = sum(not table[n, s]["found"] for n in names for s in scheds)
    never = [n for n in names if not any(table[n, s]["found"] for s in scheds)]
    print(f"\n{len(runs) - missed} of {len(runs)} runs found their mutation; "
          f"found by no scheduler: {', '.join(never) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
