"""The model's benchmark targets (issues 3 and 14), measured through the CLI a user runs.

    python -m bench.bench_model            # everything (an hour or more on 2 cores)
    python -m bench.bench_model --quick    # depth 1, the mutations, dfs, sampling (minutes)
    python -m bench.bench_model --only 5 --only 6    # issue 14's targets 5 and 6 only

Issue 14's targets (numbered as in the issue) are in :mod:`bench.speed_targets`.
Issue 3's targets:

Targets, on the 2-core project machine:

* ``zsmc check --depth 1`` on each version: complete and clean within 10 s;
* ``zsmc check --depth 2 --jobs N`` (N: the machine's cores) on upstream:
  complete and clean within 120 s; the serial time is reported beside it;
* every mutation found by ``zsmc check --mutation NAME --property P``
  (P: the property its registration names; depth 1 on the default
  scenarios, else depth 2) within 10 s;
* ``dpor`` against ``dfs`` at depth 1 where ``dfs`` finishes (executions and
  time), with a 60 s limit for ``dfs``.

Prints a Markdown table per part and one PASS/FAIL line per target; the exit
status is 1 if a target failed.  Wall times include the process start.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
if __package__ in (None, ""):     # run as a script: make the repository importable
    sys.path.insert(0, str(ROOT))

from bench import speed_targets as st

VERSIONS = ("upstream", "v5", "legacy")
DFS_SCENARIOS = ("smoke", "up-read-compact", "read-compact")


def zsmc(*args, timeout=None):
    """Run ``zsmc check ARGS --format json``: ``(document, wall seconds)``."""
    return st.run_json(ROOT, args, timeout)


def clean(doc) -> bool:
    return doc["status"] == "pass" and all(s["complete"] for s in doc["scenarios"])


def depth_runs(verdicts, quick: bool) -> None:
    print("| command | scenarios | executions | wall (s) | result |")
    print("|---|---|---|---|---|")
    cores = os.cpu_count() or 1
    runs = [(v, 1, []) for v in VERSIONS]
    if not quick:
        runs += [("upstream", 2, []), ("upstream", 2, ["--jobs", str(cores)])]
    for version, depth, extra in runs:
        doc, wall = zsmc("--variant", version, "--depth", str(depth), *extra)
        n = sum(s["executions"] for s in doc["scenarios"])
        cmd = " ".join(["zsmc check --variant", version, "--depth", str(depth), *extra])
        print(f"| `{cmd}` | {len(doc['scenarios'])} | {n:,} | {wall:.1f} | {doc['status']} |")
        limit = 10 if depth == 1 else (120 if extra else None)
        if limit is not None:
            state = "complete and clean" if clean(doc) else doc["status"]
            verdicts.append((clean(doc) and wall <= limit,
                             f"{cmd}: {state} in {wall:.1f} s (target {limit} s)"))
        else:
            verdicts.append((clean(doc), f"{cmd}: {doc['status']} in {wall:.1f} s (serial, no target)"))


def mutations(verdicts) -> None:
    sys.path.insert(0, str(ROOT))
    from model import registry
    print("| mutation | expected property | found | wall (s) |")
    print("|---|---|---|---|")
    for name, m in sorted(registry.MUTATIONS.items()):
        if not m.expressible:
            continue
        # "bug" (a BUG_ON in the model) is always checked; it is not a --property.
        prop = ("--property", m.expected_property) if m.expected_property != "bug" else ()
        doc, wall = zsmc("--mutation", name, "--depth", "1", *prop)
        found = _found(doc)
        if not found:
            doc, wall2 = zsmc("--mutation", name, "--depth", "2", *prop)
            wall += wall2
            found = _found(doc)
        found = m.expected_property in found
        print(f"| {name} | {m.expected_property} | {'yes' if found else 'NO'} | {wall:.1f} |")
        verdict = "found" if found else "NOT found"
        verdicts.append((found and wall <= 10,
                         f"mutation {name}: {m.expected_property} {verdict} in {wall:.1f} s (target 10 s)"))


def _found(doc) -> set:
    return {v["property"] for s in doc["scenarios"] for v in s["violations"]}


def dfs_ratio() -> None:
    print("| scenario (depth 1) | dpor executions | dpor (s) | dfs executions | dfs (s) | dfs/dpor |")
    print("|---|---|---|---|---|---|")
    for scen in DFS_SCENARIOS:
        d, _ = zsmc("--scenario", scen, "--depth", "1")
        f, _ = zsmc("--scenario", scen, "--depth", "1", "--scheduler", "dfs", "--time-limit", "60")
        ds, fs = d["scenarios"][0], f["scenarios"][0]
        done = fs["complete"]
        fx = f"{fs['executions']:,}" + ("" if done else " (60 s, unfinished)")
        ratio = f"{fs['executions'] / ds['executions']:.0f}x" if done else "-"
        print(f"| {scen} | {ds['executions']:,} | {ds['elapsed']:.2f} | {fx} | {fs['elapsed']:.2f} | {ratio} |")


def issue14(verdicts, only, quick) -> None:
    """Issue 14's targets ``only`` (all if empty), long ones skipped when ``quick``."""
    runs = st.Runs(ROOT)
    parts = [(1, "redundant executions", lambda: st.redundant(runs, verdicts, (1,) if quick else (1, 2))),
             (2, "depth 2 of every version, serial and --jobs 2", lambda: st.depth2(runs, verdicts)),
             (3, "depth 3 of upstream, --jobs 2", lambda: st.depth3(runs, verdicts)),
             (5, "first bug first", lambda: st.first_bug(runs, verdicts)),
             (6, "sampling on large", lambda: st.sampling(runs, verdicts))]
    for n, title, part in parts:
        wanted = n in only or (n == 2 and 4 in only) or not only
        if not wanted or (quick and n in (2, 3)):
            continue
        print(f"## Issue 14, target {n}{' and 4' if n == 2 else ''}: {title}\n")
        part()
        print()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="skip the long runs: issue 3's depth 2, issue 14's targets 2-4 and depth 2 of 1")
    ap.add_argument("--only", type=int, action="append", choices=range(1, 7), default=[], metavar="N",
                    help="only issue 14's target N (repeatable; 4 comes with 2); issue 3's are skipped")
    args = ap.parse_args(argv)
    verdicts = []
    print(f"# zsmc model benchmark: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}\n")
    if not args.only:
        depth_runs(verdicts, args.quick)
        print()
        mutations(verdicts)
        print()
        dfs_ratio()
        print()
    issue14(verdicts, set(args.only), args.quick)
    return report(verdicts)


def report(verdicts) -> int:
    """Print one PASS/FAIL line per target after a blank line; the exit status."""
    print()
    for ok, line in verdicts:
        print(("PASS  " if ok else "FAIL  ") + line)
    return 0 if all(ok for ok, _ in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
