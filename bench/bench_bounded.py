"""Preemption-bounded search: dpor (trace states, cheapest first) against dfs, and auto.

For each default scenario: the executions of unbounded dpor; ``--preemption-bound
auto`` with dpor (executions, the runs that stopped at a known state, time) and
its ratio to unbounded dpor (issue 12's target: at most 5x); then bounds 0..K
with dpor and dfs (executions, time, outcomes equal).  Finally the README's
example, ``zsmc check --mutation read-end-unlock-first --preemption-bound auto``,
through the command line.  Long runs: not a test.

    python -m bench.bench_bounded --depth 1
    python -m bench.bench_bounded --depth 2 --bounds 2 --scenario up-read-migrate
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from checker import explore
from checker.bounded import explore_auto_bound
from model.registry import SCENARIOS, make_build, variant_for


def _timed(fn, *args, **kwargs):
    t = time.perf_counter()
    r = fn(*args, **kwargs)
    return r, time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=1)
    ap.add_argument("--bounds", type=int, default=2, help="compare bounds 0..K with dfs")
    ap.add_argument("--scenario", action="append", default=None)
    ap.add_argument("--time-limit", type=float, default=120.0, help="per search")
    args = ap.parse_args(argv)
    names = args.scenario or [n for n, s in SCENARIOS.items() if getattr(s, "default", True)]
    cls = variant_for("upstream", None)
    worst = 0.0
    for name in names:
        build, _ = make_build(cls, name, args.depth)
        plain, tp = _timed(explore, build, scheduler="dpor", time_limit=args.time_limit)
        auto, ta = _timed(explore_auto_bound, build, scheduler="dpor", time_limit=args.time_limit)
        ratio = auto.executions / max(plain.executions, 1)
        worst = max(worst, ratio)
        print(f"{name:16} dpor {plain.executions:6} ({tp:6.2f}s) | auto {auto.executions:6} executions, "
              f"{auto.redundant:6} runs at a known state ({ta:6.2f}s), x{ratio:.2f}, "
              f"{'complete' if auto.complete else auto.reason}")
        if SCENARIOS[name].default_cpus != 1 and not name.startswith("large"):
            continue        # no CPU shared: no step can preempt, every bound is plain dpor
        for k in range(args.bounds + 1):
            d, td = _timed(explore, build, scheduler="dpor", preemption_bound=k, properties=[],
                           time_limit=args.time_limit)
            f, tf = _timed(explore, build, scheduler="dfs", preemption_bound=k, properties=[],
                           time_limit=args.time_limit)
            same = "same outcomes" if d.outcomes == f.outcomes else "OUTCOMES DIFFER"
            print(f"    bound {k}: dpor {d.executions:6} executions, {d.redundant:6} at a known state, "
                  f"{td:6.2f}s | dfs {f.executions:7} executions, {tf:6.2f}s | {same}"
                  f"{'' if d.complete and f.complete else ' (a search was cut by its time limit)'}")
    print(f"worst auto/dpor execution ratio: x{worst:.2f} (target: at most x5)")
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "cli", "check", "--mutation", "read-end-unlock-first",
                        "--preemption-bound", "auto", "--depth", str(args.depth), "--no-minimize",
                        "--out", "zsmc-traces-bench"], capture_output=True, text=True, check=False)
    print(f"README example: exit {p.returncode} in {time.perf_counter() - t:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
