"""Issue 14 item 6: ``zsmc check --scenario large --scheduler pct --mutation M`` per seed.

The target: with the default settings (the CLI's defaults: scenario depth 1,
every property, the pct scheduler's default depth and executions), the
command finds every catalogue mutation that applies to the default kernel
configuration within 60 s, for each of 5 seeds.  This runs exactly that
command (plus ``--seed S``, ``--format json`` and ``--no-minimize``: the
minimiser runs after the find and is not part of the time to find it) as a
subprocess per mutation and seed, and prints a Markdown table: per cell the
search's own seconds to the first violation and its executions, or MISS
(the run ended, its executions spent, or was killed at the limit, without a
violation).  A cell also names the property found when it is not the one the
mutation registers (the base versions are silent on ``large``:
tests/test_sampling.py and docs/sampling.md).

A mutation applies when the scenario runs the code it changes: one that only
changes the *context* of a caller (``IRQ_CLIENTS``: clients run as interrupt
handlers) applies when ``large`` has a client of that name.

    python -m bench.bench_sampling                     # every mutation, seeds 0-4
    python -m bench.bench_sampling --seeds 2 --jobs 2
    python -m bench.bench_sampling --mutation read-end-unlock-first -- --pct-depth 2

Arguments after ``--`` are added to every command (to compare settings).
Times are wall-clock seconds on a shared machine: rough; executions are exact.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCENARIO = "large"
LIMIT = 60.0
SLACK = 10.0          # seconds past the limit before a run is killed


def applicable() -> tuple[list, dict]:
    """``(names, {name: reason})``: the mutations the target covers and those it cannot."""
    sys.path.insert(0, str(ROOT))
    from model.registry import MUTATIONS, make_build, variant_for
    names, skipped = [], {}
    for name, m in sorted(MUTATIONS.items()):
        if not m.expressible or m.cls is None:
            continue
        if m.config != "default":
            skipped[name] = f"kernel configuration {m.config!r}"
            continue
        irq = getattr(m.cls, "IRQ_CLIENTS", ())
        if irq:
            build, _ = make_build(variant_for(m.base, name), SCENARIO, 1)
            tasks = {t.name for t in build().tasks}
            if not tasks & set(irq):
                skipped[name] = f"runs {', '.join(irq)} in interrupt context; {SCENARIO} has no such client"
                continue
        names.append(name)
    return names, skipped


def run(mutation: str, seed: int, extra: list, limit: float) -> dict:
    """One command: ``{"found", "seconds", "executions", "property", "wall"}``."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "cli", "check", "--scenario", SCENARIO, "--scheduler", "pct",
               "--mutation", mutation, "--seed", str(seed), "--format", "json", "--no-minimize",
               "--out", out, "--time-limit", str(limit), *extra]
        try:
            p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=limit + SLACK,
                               check=False)
        except subprocess.TimeoutExpired:
            return {"found": False, "seconds": limit + SLACK, "executions": None, "property": None,
                    "error": "killed"}
    try:
        doc = json.loads(p.stdout)
    except json.JSONDecodeError:
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return {"found": False, "seconds": 0.0, "executions": None, "property": None, "error": tail}
    s = doc["scenarios"][0]
    props = [v["property"] for v in s["violations"]]
    found = bool(props) and s["elapsed"] <= limit
    return {"found": found, "seconds": s["elapsed"], "executions": s["executions"],
            "property": props[0] if props else None}


def cell(r: dict, expected: str) -> str:
    if r.get("error"):
        return f"MISS ({r['error'][:50]})"
    if not r["found"]:
        return f"MISS ({r['executions']:,} exec, {r['seconds']:.0f} s)"
    other = "" if r["property"] == expected else f", {r['property']}"
    return f"{r['seconds']:.1f} s ({r['executions']:,}{other})"


def measure(names, seeds, extra, limit, jobs, log=sys.stderr) -> dict:
    """``{(mutation, seed): result}``, ``jobs`` commands at a time."""
    runs = [(n, s) for n in names for s in seeds]

    def one(key):
        r = run(*key, extra, limit)
        print(f"{key[0]:42} seed {key[1]}: {cell(r, '')}", file=log, flush=True)
        return r

    with ThreadPoolExecutor(max(jobs, 1)) as pool:
        return dict(zip(runs, pool.map(one, runs), strict=True))


def table(names, seeds, results) -> list:
    """Markdown lines of the table and ``(found runs, all runs)``."""
    sys.path.insert(0, str(ROOT))
    from model.registry import MUTATIONS
    lines = ["| mutation (property) | " + " | ".join(f"seed {s}" for s in seeds) + " |",
             "|---|" + "---|" * len(seeds)]
    for n in names:
        exp = MUTATIONS[n].expected_property
        lines.append(f"| {n} ({exp}) | " + " | ".join(cell(results[n, s], exp) for s in seeds) + " |")
    return lines


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mutation", action="append", help="only this mutation (repeatable)")
    ap.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    ap.add_argument("--limit", type=float, default=LIMIT, help="seconds per run (default 60)")
    ap.add_argument("--jobs", type=int, default=1, help="commands at a time")
    a = ap.parse_args(argv)
    names, skipped = applicable()
    if a.mutation:
        bad = [n for n in a.mutation if n not in names]
        if bad:
            ap.error(f"not an applicable mutation: {', '.join(bad)}")
        names = a.mutation
    seeds = list(range(a.seeds))
    results = measure(names, seeds, extra, a.limit, a.jobs)
    print(f"`zsmc check --scenario {SCENARIO} --scheduler pct --mutation M --seed S "
          f"{' '.join(extra)}`".replace("  ", " ") + f", limit {a.limit:g} s, {a.jobs} at a time\n")
    print("\n".join(table(names, seeds, results)))
    for n, why in skipped.items():
        print(f"\nnot applicable: {n} ({why})")
    found = sum(r["found"] for r in results.values())
    print(f"\n{found} of {len(results)} runs found their mutation within {a.limit:g} s")
    return 0 if found == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
