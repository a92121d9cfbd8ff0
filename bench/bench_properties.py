"""What the properties cost: the zsmalloc model at depth 2, every property against none.

Issue 4 asks that all properties together stay under 1.5x the exploration with
none.  Each case explores the same executions twice (``properties=[]`` and the
default set) and reports process CPU time, best of ``--repeat`` runs, so a
loaded machine does not distort the ratio.  Cases that do not finish quickly at
depth 2 run under an execution budget: the ratio is per execution either way.

    python -m bench.bench_properties            # the table in docs/benchmarks.md
    python -m bench.bench_properties --quick    # smaller budgets, one repeat
"""

from __future__ import annotations

import argparse
import time

from checker import explore
from model.registry import VERSIONS, make_build

CASES = [
    ("upstream", "read-compact", None),
    ("upstream", "read-migrate", None),
    ("upstream", "clients", 3000),
    ("v5", "up-read-compact", 3000),
    ("v5", "up-read-migrate", 3000),
    ("legacy", "free-deferred", 3000),
]


def measure(version, scenario, budget, depth, repeat):
    build, _ = make_build(VERSIONS[version], scenario, depth)
    best = {}
    executions = 0
    for _ in range(repeat):
        for name, props in (("none", []), ("all", None)):
            t0 = time.process_time()
            r = explore(build, scheduler="dpor", properties=props, max_executions=budget,
                        stop_on_violation=False)
            dt = time.process_time() - t0
            best[name] = min(best.get(name, float("inf")), dt)
            executions = r.executions
            if r.violations:
                raise SystemExit(f"{version}/{scenario}: unexpected violation {r.violations[0]}")
    return executions, best["none"], best["all"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="budgets of 500 executions, one repeat")
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    repeat = 1 if args.quick else args.repeat
    print("| version | scenario | depth | executions | none (CPU s) | all (CPU s) | ratio |")
    print("|---|---|---|---|---|---|---|")
    worst = 0.0
    for version, scenario, budget in CASES:
        if args.quick:
            budget = 500
        n, none, every = measure(version, scenario, budget, args.depth, repeat)
        ratio = every / none if none > 0 else float("nan")
        worst = max(worst, ratio)
        print(f"| {version} | {scenario} | {args.depth} | {n:,} | {none:.2f} | {every:.2f} | {ratio:.2f} |",
              flush=True)
    verdict = "PASS" if worst < 1.5 else "FAIL"
    print(f"\n{verdict}  worst ratio all/none = {worst:.2f} (target < 1.5)")
    return 0 if worst < 1.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
