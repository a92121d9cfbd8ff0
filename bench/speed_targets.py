"""Issue 14's targets, measured through the CLI (``python -m bench.bench_model``).

Each target function appends ``(ok, line)`` verdicts; a line names the
target, the measured figure and the command.  Every ``zsmc`` run goes
through :func:`Runs.get`, which remembers its document, so the targets that
share a run (the depth-2 searches give target 1's redundant counts, target
2's times and target 4's speedup) run it once.

1. no sleep-set-blocked (redundant) execution on any scenario of any version
   at depth 1 and 2;
2. ``--depth 2`` of every version within 60 s serial and 35 s with
   ``--jobs 2``; upstream serial within 20 s;
3. ``--depth 3`` of upstream with ``--jobs 2`` within 30 minutes, executions
   per depth tabulated;
4. ``--jobs 2`` at least 1.8x faster than serial at depth 2, same counts;
5. first bug first: ``--mutation M --depth 2 -x`` reports its violation
   within 3x the time of ``--depth 1 -x``;
6. sampling: ``--scenario large --scheduler pct --mutation M`` finds every
   applicable mutation within 60 s for seeds 0-4 (bench/bench_sampling.py).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
import time

VERSIONS = ("upstream", "v5", "legacy")
JOBS = 2


class Runs:
    """``zsmc check ... --format json`` runs, each made once: ``(document, wall seconds)``."""

    def __init__(self, root):
        self.root = root
        self.done = {}

    def get(self, *args, timeout=None):
        if args not in self.done:
            doc, wall = self.done[args] = self._run(args, timeout)
            # A long run's figures on stderr at once: a bench stopped later keeps them.
            what = "killed" if doc is None else f"{doc['status']}, {total(doc):,} executions"
            print(f"{command(args)}: {what} in {wall:.1f} s", file=sys.stderr, flush=True)
        return self.done[args]

    def _run(self, args, timeout):
        return run_json(self.root, args, timeout)


def run_json(root, args, timeout=None):
    """``zsmc check ARGS --format json`` in ``root``: ``(document, wall seconds)``;
    the document is None if the run outlived ``timeout``."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "cli", "check", *args, "--format", "json", "--out", out]
        t = time.perf_counter()
        try:
            p = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return None, time.perf_counter() - t
        wall = time.perf_counter() - t
    try:
        return json.loads(p.stdout), wall
    except json.JSONDecodeError as exc:
        raise SystemExit(f"bench_model: {' '.join(cmd)} printed no JSON ({exc}): {p.stderr.strip()}") from exc


def command(args) -> str:
    return "zsmc check " + " ".join(args)


def total(doc, key="executions") -> int:
    return sum(s[key] for s in doc["scenarios"])


def complete(doc) -> bool:
    return doc is not None and doc["status"] == "pass" and all(s["complete"] for s in doc["scenarios"])


def depth_args(version, depth, jobs=1) -> tuple:
    return ("--variant", version, "--depth", str(depth)) + (("--jobs", str(jobs)) if jobs > 1 else ())


def scenario_key(s) -> str:
    return f"{s['name']} ({s['params'].get('cpus')} CPU)"


def redundant(runs, verdicts, depths) -> None:
    """Target 1: every scenario of every version, serial search, per depth."""
    print("| version | depth | scenarios | executions | redundant | scenarios with redundant runs |")
    print("|---|---|---|---|---|---|")
    for depth in depths:
        for v in VERSIONS:
            doc, _ = runs.get(*depth_args(v, depth))
            red = {scenario_key(s): (s["redundant"], s["executions"]) for s in doc["scenarios"]
                   if s["redundant"]}
            where = ", ".join(f"{k} {r:,}/{n:,}" for k, (r, n) in red.items()) or "-"
            print(f"| {v} | {depth} | {len(doc['scenarios'])} | {total(doc):,} | {total(doc, 'redundant'):,} "
                  f"| {where} |")
            line = (f"[1] {v} depth {depth}: {total(doc, 'redundant'):,} redundant of {total(doc):,} "
                    f"executions in {len(red)} of {len(doc['scenarios'])} scenarios (target 0)")
            verdicts.append((total(doc, "redundant") == 0 and complete(doc), line))


def depth2(runs, verdicts) -> None:
    """Targets 2 and 4: each version at depth 2, serial and on ``JOBS`` processes."""
    print(f"| version | serial executions | serial (s) | --jobs {JOBS} executions | --jobs {JOBS} (s) | speedup |")
    print("|---|---|---|---|---|---|")
    for v in VERSIONS:
        sdoc, swall = runs.get(*depth_args(v, 2))
        pdoc, pwall = runs.get(*depth_args(v, 2, JOBS))
        same = [(s["executions"], s["redundant"]) for s in sdoc["scenarios"]] == \
               [(s["executions"], s["redundant"]) for s in pdoc["scenarios"]]
        speedup = swall / pwall
        print(f"| {v} | {total(sdoc):,} | {swall:.1f} | {total(pdoc):,} | {pwall:.1f} | {speedup:.2f}x |")
        serial_limit = 20 if v == "upstream" else 60
        serial = (f"[2] {command(depth_args(v, 2))}: {sdoc['status']}, {total(sdoc):,} executions "
                  f"in {swall:.1f} s (target {serial_limit} s)")
        pooled = (f"[2] {command(depth_args(v, 2, JOBS))}: {pdoc['status']}, {total(pdoc):,} executions "
                  f"in {pwall:.1f} s (target 35 s)")
        gain = (f"[4] {v} depth 2, --jobs {JOBS} against serial: {speedup:.2f}x ({swall:.1f} s / "
                f"{pwall:.1f} s), counts {'identical' if same else 'DIFFERENT'} (target 1.8x, identical)")
        verdicts.append((complete(sdoc) and swall <= serial_limit, serial))
        verdicts.append((complete(pdoc) and pwall <= 35, pooled))
        verdicts.append((same and speedup >= 1.8, gain))


def depth3(runs, verdicts, limit=1800) -> None:
    """Target 3: upstream at depth 3 on ``JOBS`` processes, with the executions per depth."""
    args = depth_args("upstream", 3, JOBS) + ("--time-limit", str(limit))
    doc, wall = runs.get(*args, timeout=limit + 120)
    rows = {d: runs.get(*depth_args("upstream", d, JOBS))[0] for d in (1, 2)}
    rows[3] = doc
    print("| scenario | depth 1 | depth 2 | depth 3 |")
    print("|---|---|---|---|")
    names = [scenario_key(s) for s in rows[1]["scenarios"]]
    cols = {d: ({scenario_key(s): s for s in r["scenarios"]} if r else {}) for d, r in rows.items()}
    for name in names:
        cells = []
        for d in (1, 2, 3):
            s = cols[d].get(name)
            cells.append("-" if s is None else f"{s['executions']:,}" + ("" if s["complete"] else " (incomplete)"))
        print(f"| {name} | " + " | ".join(cells) + " |")
    figure = "killed" if doc is None else f"{doc['status']}, {total(doc):,} executions"
    verdicts.append((complete(doc) and wall <= limit,
                     f"[3] {command(args)}: {figure} in {wall:.0f} s (target {limit} s)"))


def first_bug(runs, verdicts) -> None:
    """Target 5: wall time to the first violation, ``--depth 2 -x`` against ``--depth 1 -x``."""
    sys.path.insert(0, str(runs.root))
    from model.registry import MUTATIONS
    print("| mutation | depth 1 -x (s) | depth 2 -x (s) | ratio | found at depth 2 |")
    print("|---|---|---|---|---|")
    for name, m in sorted(MUTATIONS.items()):
        if not m.expressible or m.cls is None:
            continue
        own = own_scenarios(m)
        d1, w1 = runs.get("--mutation", name, *own, "--depth", "1", "-x", "--no-minimize")
        if not d1["violations"]:
            # Depth 2 would be the whole clean search; a bug depth 1 misses is not this target's.
            print(f"| {name} | {w1:.1f} | - | - | nothing at depth 1 |")
            line = f"[5] --mutation {name} {' '.join(own)}: nothing found at depth 1 ({w1:.1f} s); depth 2 not run"
            verdicts.append((False, line))
            continue
        d2, w2 = runs.get("--mutation", name, *own, "--depth", "2", "-x", "--no-minimize")
        found = [(s["name"], v["property"]) for s in d2["scenarios"] for v in s["violations"]]
        ratio = w2 / w1
        where = f"{found[0][1]} in {found[0][0]}" if found else "nothing"
        print(f"| {name} | {w1:.1f} | {w2:.1f} | {ratio:.2f} | {where} |")
        line = (f"[5] --mutation {name}{''.join(' ' + w for w in own)} --depth 2 -x: {where} in {w2:.1f} s, "
                f"{ratio:.2f}x the {w1:.1f} s of --depth 1 -x (target 3x)")
        verdicts.append((bool(found) and ratio <= 3, line))


def own_scenarios(m) -> tuple:
    """``--scenario S`` options for a mutation that only changes a caller's context
    (``IRQ_CLIENTS``): the scenarios with a client of that name, default or not."""
    from model.scenarios import SCENARIOS
    irq = set(getattr(m.cls, "IRQ_CLIENTS", ()))
    if not irq:
        return ()
    names = [n for n, s in SCENARIOS.items() if irq & {t.name for t in s.tasks}]
    return tuple(x for n in names for x in ("--scenario", n))


def sampling(runs, verdicts, seeds=5) -> None:
    """Target 6 (bench/bench_sampling.py's measurement)."""
    from bench import bench_sampling as bs
    names, skipped = bs.applicable()
    results = bs.measure(names, list(range(seeds)), [], bs.LIMIT, 1, log=io.StringIO())
    print("\n".join(bs.table(names, list(range(seeds)), results)))
    for name in names:
        rs = [results[name, s] for s in range(seeds)]
        found = [r for r in rs if r["found"]]
        slowest = max((r["seconds"] for r in found), default=0.0)
        line = (f"[6] --scenario large --scheduler pct --mutation {name}: found by {len(found)} of "
                f"{seeds} seeds, slowest {slowest:.1f} s (target {seeds} of {seeds} within {bs.LIMIT:g} s)")
        verdicts.append((len(found) == seeds, line))
    for name, why in skipped.items():
        print(f"\nnot applicable: {name} ({why})")
