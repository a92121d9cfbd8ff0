"""Four roles by CPU count (issue 18), measured through the CLI a user runs.

    python -m bench.bench_mixed                     # every version, 1 / 2 mixed / 4 CPUs
    python -m bench.bench_mixed --version upstream --time-limit 120

The scenarios ``mixed-a`` (reader and migration on CPU 0, compaction and the
freer on CPU 1) and ``mixed-b`` (reader and compaction on CPU 0, migration and
the freer on CPU 1) at ``--depth 1`` with ``dpor``: the same four tasks on one
CPU (``--cpus 1``), on two CPUs two by two (the scenario's own), and one CPU
each (``--cpus 4``; mixed-a and mixed-b are then the same program up to task
order).  Prints a Markdown table by CPU count, then one PASS/FAIL line per
mixed run for issue 18's targets: complete and clean within 60 s, and
executions within 10x of the four-CPU count.  Wall times include the process
start; the machine may be shared, so counts are the exact part.

``--in-process`` runs each search in this process instead (``explore``, the
properties of the CLI's default), where two switches size the reductions:
``--no-contiguity`` orders a split section by its ownership changes again
(``RaceReversal.contiguous_sections = False``, docs/design.md "A split
section against its CPU's other tasks") and ``--warm-up N`` sets how many
random executions teach the lock discipline first (:mod:`checker.mixed_warmup`;
0 turns it off).

``--three`` measures instead, in process, the mixed sections' gain where the
search finishes: each mixed scenario without one of the roles of CPU 1 (so
two tasks share CPU 0 and one has CPU 1), with ``dpor`` as it is and
without :class:`checker.mixed.MixedSections` (what it explored before).
"""

from __future__ import annotations

import argparse
import os
import sys

from bench.bench_model import report, zsmc

VERSIONS = ("upstream", "v5", "legacy")
LAYOUTS = (("mixed-a", 1), ("mixed-a", 4), ("mixed-a", 2), ("mixed-b", 2))


def row(version, scenario, cpus, limit):
    doc, wall = zsmc("--variant", version, "--scenario", scenario, "--cpus", str(cpus),
                     "--depth", "1", "--time-limit", str(limit), timeout=limit + 120)
    s = doc["scenarios"][0]
    done = s["complete"]
    return {"executions": s["executions"], "redundant": s.get("redundant", 0), "wall": wall,
            "complete": done, "status": doc["status"]}


def row_in_process(version, scenario, cpus, limit, contiguous=True, warm_up=None):
    import time

    from checker import explore, mixed_warmup
    from model.registry import VERSIONS as KNOWN
    from model.registry import make_build

    build, _ = make_build(KNOWN[version], scenario, 1, cpus)
    keep = mixed_warmup.WARM_UP
    if warm_up is not None:
        mixed_warmup.WARM_UP = warm_up
    began = time.perf_counter()
    try:
        r = explore(build, scheduler=_Fresh(contiguous), time_limit=limit)
    finally:
        mixed_warmup.WARM_UP = keep
    status = "fail" if r.violations else "pass"
    return {"executions": r.executions, "redundant": r.redundant, "wall": time.perf_counter() - began,
            "complete": r.complete, "status": status, "note": r.note or ""}


def _Fresh(contiguous):
    """dpor with the contiguity relation on or off, started again as explore's
    string "dpor" is (a new search with its guards) when the discipline is weakened."""
    from checker.schedulers.dpor import DPOR

    class Fresh(DPOR):
        contiguous_sections = contiguous

        def reset(self):
            DPOR.__init__(self)

    return Fresh()


def three_roles(versions, limit) -> None:
    from checker import explore
    from checker.mixed import MixedSections
    from checker.schedulers.dpor import DPOR
    from model.registry import SCENARIOS, VERSIONS, make_build
    from model.scenarios import Scenario

    class Before(DPOR):
        """dpor without the mixed sections."""

        def __init__(self):
            super().__init__()
            self.reductions = tuple(r for r in self.reductions if r is not MixedSections)

        def reset(self):
            super().reset()
            self.reductions = tuple(r for r in self.reductions if r is not MixedSections)

    print("| version | CPU 0 | CPU 1 | executions before | (s) | executions now | (s) |")
    print("|---|---|---|---|---|---|---|")
    for v in versions:
        for base in ("mixed-a", "mixed-b"):
            scen = SCENARIOS[base]
            for drop in [t.name for t in scen.tasks if t.slot % 2 == 1]:
                tasks = tuple(t for t in scen.tasks if t.name != drop)
                name = f"{base}-without-{drop}"
                SCENARIOS[name] = Scenario(name, name, 1, 2, tasks, default=False)
                build, params = make_build(VERSIONS[v], name, 1, 2)
                cpu = {c: "+".join(t["name"] for t in params["tasks"] if t["cpu"] == c) for c in (0, 1)}
                cells = []
                for sched in (Before(), "dpor"):
                    r = explore(build, scheduler=sched, time_limit=limit)
                    n = f"{r.executions:,}" + ("" if r.complete else " (unfinished)")
                    cells += [n, f"{r.elapsed:.1f}"]
                print(f"| {v} | {cpu[0]} | {cpu[1]} | " + " | ".join(cells) + " |", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--version", action="append", choices=VERSIONS,
                    help="a version to measure (repeatable; default: all three)")
    ap.add_argument("--time-limit", type=int, default=600, metavar="S",
                    help="budget per run (default 600 s)")
    ap.add_argument("--in-process", action="store_true",
                    help="run each search in this process (explore) rather than through the CLI")
    ap.add_argument("--no-contiguity", action="store_true",
                    help="with --in-process: order split sections by their ownership changes")
    ap.add_argument("--warm-up", type=int, default=None, metavar="N",
                    help="with --in-process: random executions that teach the lock discipline "
                         "first (default: checker.mixed_warmup.WARM_UP; 0: none)")
    ap.add_argument("--layout", action="append", choices=("1", "4", "mixed-a", "mixed-b"),
                    help="only these rows (repeatable; default: all four)")
    ap.add_argument("--three", action="store_true",
                    help="three roles (two on CPU 0), before and with the mixed sections")
    args = ap.parse_args(argv)
    versions = args.version or list(VERSIONS)
    if args.three:
        three_roles(versions, args.time_limit)
        return 0
    print(f"# four roles by CPU count: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}\n")
    print("| version | CPUs | layout | executions | redundant | wall (s) | result |")
    print("|---|---|---|---|---|---|---|")
    verdicts = []
    for v in versions:
        four = None
        for scen, cpus in LAYOUTS:
            if args.layout and (scen if cpus == 2 else str(cpus)) not in args.layout:
                continue
            if args.in_process:
                r = row_in_process(v, scen, cpus, args.time_limit, not args.no_contiguity,
                                   args.warm_up)
            else:
                r = row(v, scen, cpus, args.time_limit)
            layout = {1: "all on CPU 0", 4: "one each"}.get(cpus, scen)
            state = r["status"] if r["complete"] else f"incomplete ({r['status']})"
            print(f"| {v} | {cpus} | {layout} | {r['executions']:,} | {r['redundant']:,} | "
                  f"{r['wall']:.1f} | {state} |", flush=True)
            if cpus == 4:
                four = r["executions"]
            if cpus == 2 and four is not None:
                ok = (r["complete"] and r["status"] == "pass" and r["wall"] <= 60
                      and r["executions"] <= 10 * four)
                verdicts.append((ok, f"{v} {scen}: {r['executions']:,} executions "
                                 f"({r['executions'] / four:.1f}x four CPUs'), {r['wall']:.1f} s, "
                                 f"{'complete' if r['complete'] else 'incomplete'}, {r['status']}"))
    return report(verdicts)


if __name__ == "__main__":
    sys.exit(main())
