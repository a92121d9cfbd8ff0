"""Engine benchmark: dpor on the classic workloads, against the dfs oracle where it finishes.

Usage (from the repository root)::

    python -m bench.bench_engine            # full run (dfs up to 60 s per workload)
    python -m bench.bench_engine --quick    # dfs limited to 5 s (run fully only below
                                            # 150,000 interleavings), one dpor run each
    python -m bench.bench_engine --only lastzero

For each workload it prints, as a Markdown table: the expected Mazurkiewicz
trace count (dpor-benchmarks.md section 3), dpor's executions and redundant
runs, its wall time (best of ``--repeat`` runs) and executions per second,
then dfs's executions and time and the ratios dfs/dpor.  dfs is run to the
end only where the known interleaving count is at most ``--dfs-max``;
elsewhere it runs under ``--dfs-limit`` seconds and is reported as
``>= N (timeout)``.  No property is loaded: this measures the engine alone.

The targets of issue 2 are checked at the end; the exit status is 1 when a
count is wrong or a target is missed.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

if __package__ in (None, ""):     # run as a script: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import programs as P
from checker import explore

# (label, program name, arguments)
WORKLOADS = [
    ("readers(8)", "readers", (8,)),
    ("lastzero(10)", "lastzero", (10,)),
    ("account(4)", "account", (4,)),
    ("philosophers(5)", "philosophers", (5,)),
    ("indexer(12)", "indexer", (12,)),
    ("filesystem(14)", "filesystem", (14,)),
    ("counter(3x2)", "counter", (3, 2)),
]

# detangle's time for counter(3x2) on this kind of machine (issue 2); the target is 10x faster.
DETANGLE_COUNTER_S = 48.7


def timed(build, scheduler, repeat=1, **kw):
    """``(result, wall, cpu)`` of the fastest of ``repeat`` runs (their counts are identical).

    ``cpu`` is this process's CPU time: on a shared machine it is the fairer
    measure, wall time the one the targets are stated in.
    """
    best = None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        r = explore(build, scheduler=scheduler, properties=[], **kw)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if best is None or wall < best[1]:
            best = (r, wall, cpu)
    return best


def run_workload(label, name, args, opts):
    build = P.PROGRAMS[name](*args)
    expected = P.traces(name, *args)
    r, wall, cpu = timed(build, "dpor", repeat=opts.repeat)
    row = {"label": label, "expected": expected, "executions": r.executions,
           "redundant": r.redundant, "deadlocks": r.deadlocks, "complete": r.complete,
           "wall": wall, "rate": r.executions / wall if wall > 0 else float("inf"),
           "cpu": cpu, "cpu_rate": r.executions / cpu if cpu > 0 else float("inf"),
           "dfs": None, "dfs_wall": None, "dfs_done": False,
           "interleavings": P.interleavings(name, *args)}
    known = row["interleavings"]
    if opts.no_dfs:
        return row
    if known is not None and known <= opts.dfs_max:
        d, dwall, _ = timed(build, "dfs")
    else:
        d, dwall, _ = timed(build, "dfs", time_limit=opts.dfs_limit)
    row.update(dfs=d.executions, dfs_wall=dwall, dfs_done=d.complete)
    return row


def fmt_int(n):
    return "-" if n is None else f"{n:,}"


def render(rows, opts) -> str:
    head = ("| workload | traces (expected) | dpor executions | redundant | wall (s) | executions/s "
            "| CPU (s) | executions/CPU-s | dfs executions | dfs wall (s) | dfs/dpor executions "
            "| dfs/dpor time |")
    lines = [head, "|" + "---|" * 12]
    for w in rows:
        if w["dfs"] is None:
            dfs = "not run"
            dwall = ratio_n = ratio_t = "-"
        elif w["dfs_done"]:
            dfs = fmt_int(w["dfs"])
            dwall = f"{w['dfs_wall']:.2f}"
            ratio_n = f"{w['dfs'] / w['executions']:,.0f}x"
            ratio_t = f"{w['dfs_wall'] / w['wall']:,.0f}x"
        else:
            dfs = f">= {w['dfs']:,} (timeout)"
            if w["interleavings"] is not None:
                dfs += f"; {w['interleavings']:,} known"
            dwall = f"> {opts.dfs_limit:g}"
            ratio_n = ratio_t = "-"
        lines.append(f"| {w['label']} | {fmt_int(w['expected'])} | {fmt_int(w['executions'])} "
                     f"| {w['redundant']} | {w['wall']:.3f} | {w['rate']:,.0f} | {w['cpu']:.3f} "
                     f"| {w['cpu_rate']:,.0f} | {dfs} | {dwall} "
                     f"| {ratio_n} | {ratio_t} |")
    return "\n".join(lines)


def check_targets(rows) -> list[tuple[bool, str]]:
    """Issue 2's targets, as (met, description) for the workloads that were run."""
    by = {w["label"]: w for w in rows}
    out = []
    for w in rows:
        if w["expected"] is not None:
            met = w["executions"] == w["expected"] and w["redundant"] == 0 and w["complete"]
            text = (f"{w['label']}: {w['executions']:,} executions, {w['redundant']} redundant "
                    f"(expected {w['expected']:,}, 0)")
            out.append((met, text))
    if "lastzero(10)" in by:
        w = by["lastzero(10)"]
        text = (f"lastzero(10) at {w['rate']:,.0f} executions/s of wall time, "
                f"{w['cpu_rate']:,.0f} per CPU-second (target >= 2,000)")
        out.append((w["rate"] >= 2000, text))
    if "counter(3x2)" in by:
        w = by["counter(3x2)"]
        limit = DETANGLE_COUNTER_S / 10
        text = (f"counter(3x2) exhausted in {w['wall']:.2f} s wall, {w['cpu']:.2f} s CPU "
                f"(target < {limit:.2f} s; {DETANGLE_COUNTER_S / w['wall']:,.0f}x faster than "
                f"detangle's {DETANGLE_COUNTER_S} s)")
        out.append((w["complete"] and w["wall"] < limit, text))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_engine", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="dfs limited to 5 s and 150,000 interleavings, one dpor run per workload")
    ap.add_argument("--only", metavar="NAME", action="append",
                    help="run only workloads whose label starts with NAME (repeatable)")
    ap.add_argument("--repeat", type=int, default=None, help="dpor runs per workload, best kept (default 3)")
    ap.add_argument("--dfs-limit", type=float, default=None,
                    help="seconds for dfs where it cannot finish (default 60, --quick 5)")
    ap.add_argument("--dfs-max", type=int, default=None,
                    help="run dfs to the end when the known interleaving count is at most this "
                         "(default 1,000,000; --quick 150,000)")
    ap.add_argument("--no-dfs", action="store_true", help="skip the dfs oracle entirely")
    opts = ap.parse_args(argv)
    if opts.repeat is None:
        opts.repeat = 1 if opts.quick else 3
    if opts.dfs_max is None:
        opts.dfs_max = 150_000 if opts.quick else 1_000_000
    if opts.dfs_limit is None:
        opts.dfs_limit = 5.0 if opts.quick else 60.0
    if opts.repeat < 1 or opts.dfs_limit <= 0:
        ap.error("--repeat must be >= 1 and --dfs-limit positive")
    chosen = WORKLOADS
    if opts.only:
        chosen = [w for w in WORKLOADS if any(w[0].startswith(o) or w[1] == o for o in opts.only)]
        if not chosen:
            known = ", ".join(w[0] for w in WORKLOADS)
            ap.error(f"no workload matches {', '.join(opts.only)}; workloads: {known}")
    print(f"# zsmc engine benchmark: python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, dpor best of {opts.repeat}, "
          f"dfs limit {opts.dfs_limit:g} s", flush=True)
    rows = []
    for label, name, args in chosen:
        rows.append(run_workload(label, name, args, opts))
        print(f"  done {label}", file=sys.stderr, flush=True)
    print()
    print(render(rows, opts))
    print()
    results = check_targets(rows)
    for ok, text in results:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return 0 if all(ok for ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
