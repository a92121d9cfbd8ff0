"""Where a scenario's Mazurkiewicz traces come from (issue 14 item 2).

Runs the unsplit dpor search of one scenario (one execution per trace) and
describes its traces by two things that together name a trace:

* each task's *local path*: the sequence of its steps with their results and
  choice values (a retry loop that ran twice is another path);
* for each object, the order in which the tasks' conflicting accesses to it
  came (runs of accesses that commute, two reads or two commuting additions,
  are sorted, so only conflicting pairs count).

It prints how many traces there are per pair of local paths, the worker's
failed trylocks, and per class of object (page locks, refcounts, the zspage,
class->lock, ...) how often the tasks switched on it and how many traces
would remain if that class's order did not matter: the most any reduction
making those accesses commute could save (docs/benchmarks.md, "Why
free-deferred has so many traces").

    python -m bench.trace_sources --scenario free-deferred --depth 2 --cpus 2
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections import Counter, defaultdict

if __package__ in (None, ""):     # run as a script: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from checker import actions as A
from checker import explore
from checker.schedulers.dpor import DPOR
from model.registry import make_build, variant_for


def object_class(name: str) -> str:
    """A page of the zspage (``zs3.p0``) or one migration installed (``migration.new1``)
    is a page; a struct field or lock of it keeps its suffix (``page.lock``)."""
    name = re.sub(r"migration\.new\d+", "page", name)
    return re.sub(r"zs\d+\.p\d+", "page", name)


def _commuting_runs(seq):
    """``seq`` of ``(task, kind)`` with each run of mutually commuting accesses sorted."""
    out, run = [], []
    for t, k in seq:
        if any(A.conflict(k, k2) for _, k2 in run):
            out.extend(sorted(run))
            run = []
        run.append((t, k))
    out.extend(sorted(run))
    return tuple(t for t, _ in out)


def _switches(order) -> int:
    return sum(1 for a, b in zip(order, order[1:]) if a != b)


class Described(DPOR):
    """dpor that describes each explored trace (see the module docstring)."""

    def __init__(self):
        super().__init__()
        self.traces = []        # (local paths, {object uid: task order})
        self.task_names = []
        self.names = {}         # object uid -> name
        self._guessed = {}      # uid -> name, for objects only touched by several-object steps
        self._interned = {}     # one copy of each path and order (a long search keeps them all)

    def end_execution(self, world, status) -> None:
        if status in ("complete", "deadlock"):
            paths = defaultdict(list)
            seen = defaultdict(list)
            for e in world.sched_events:
                a = e.action
                paths[world.tasks[e.task].name].append((a.describe(), repr(e.result), e.choice))
                fps = e.fps if e.fps is not None else (((e.obj, e.kind, None, None),) if e.kind else ())
                name = getattr(a.obj, "name", "?")
                for i, (uid, kind, _, _) in enumerate(fps):
                    # An object only touched through another's step (the page a
                    # refcount put may free) is named after that step's object.
                    if e.fps is None:
                        self.names[uid] = name
                    else:
                        self._guessed.setdefault(uid, f"{name}#{i}")
                    seen[uid].append((e.task, kind))
            self.task_names = sorted(ts.name for ts in world.tasks)
            intern = self._interned.setdefault
            p = tuple(intern(tuple(paths.get(t, ())), tuple(paths.get(t, ()))) for t in self.task_names)
            orders = {}
            for u, acc in seen.items():
                o = _commuting_runs(acc)
                orders[u] = intern(o, o)
            self.traces.append((intern(p, p), orders))
        super().end_execution(world, status)


def report(traces, task_names, names) -> None:
    n = len(traces)
    pairs = Counter(p for p, _ in traces)
    print(f"traces: {n:,}; distinct combinations of local paths: {len(pairs):,} "
          f"(traces per combination: at most {max(pairs.values()):,}, mean {n / len(pairs):.1f})")
    for i, t in enumerate(task_names):
        fails = Counter(sum(1 for d, r, _ in p[i] if d.startswith("trylock(") and r == "False")
                        for p, _ in traces)
        print(f"  {t}: {len({p[i] for p, _ in traces}):,} local paths; traces by failed trylocks: "
              + ", ".join(f"{k}: {v:,}" for k, v in sorted(fails.items())))
    switches, most = Counter(), Counter()
    for _, orders in traces:
        per = Counter()
        for name, order in orders.items():
            per[object_class(names[name])] += _switches(order)
        for c, v in per.items():
            switches[c] += v
            most[c] = max(most[c], v)
    classes = sorted(switches)
    print("\n| object class | task switches per trace (mean, max) | traces if its order did not matter |")
    print("|---|---|---|")
    rows = []
    # Local paths and orders name a trace: this row is the trace count again.
    full = len({(p, frozenset(orders.items())) for p, orders in traces})
    print(f"| (every order kept) | | {full:,} |")
    for c in classes:
        if not most[c]:
            continue
        keep = {(p, frozenset((k, o) for k, o in orders.items() if object_class(names[k]) != c))
                for p, orders in traces}
        rows.append((len(keep), c))
    for left, c in sorted(rows):
        print(f"| `{c}` | {switches[c] / n:.2f}, {most[c]} | {left:,} |")
    # The classes above, most telling first, ignored together: what is left is
    # what the local paths and the remaining orders alone tell apart.
    gone = set()
    for _, c in sorted(rows)[:4]:
        gone.add(c)
        keep = {(p, frozenset((k, o) for k, o in orders.items() if object_class(names[k]) not in gone))
                for p, orders in traces}
        print(f"| {' + '.join(f'`{g}`' for g in sorted(gone))} together | | {len(keep):,} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--version", default="upstream")
    ap.add_argument("--depth", type=int, default=1)
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--cpus", type=int, default=None, help="default: the scenario's own")
    a = ap.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)     # a long run stopped early keeps its rows
    build, params = make_build(variant_for(a.version, None), a.scenario, a.depth, a.cpus)
    sched = Described()
    r = explore(build, scheduler=sched, properties=[])
    print(f"{a.version} {a.scenario} depth {a.depth}, {params.get('cpus')} CPUs: "
          f"{r.executions:,} executions, {r.redundant:,} redundant")
    report(sched.traces, sched.task_names, {**sched._guessed, **sched.names})
    return 0


if __name__ == "__main__":
    sys.exit(main())
