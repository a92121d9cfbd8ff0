"""Where a mixed scenario's executions come from (issue 18, third stop).

Runs ``dpor`` on one layout with a CPU shared among several CPUs (``mixed-a``,
``mixed-b``) for a time budget and describes what it explored, as
:mod:`bench.trace_sources` does for an unsplit search:

* the search: executions, redundant (sleep-set blocked) runs, restarts of the
  learned lock discipline, executions reversed with the fine relation;
* the sections: per task, scheduled steps per execution and how many of its
  sections on the shared CPU were split into several events (a group stopped
  at a non-mover), with the objects the later events began with;
* the races: every wakeup sequence inserted, by the pair of tasks and what
  made them race (the object class of the conflicting access, or ``cpu`` for
  an ownership race), and where it went (new branch or into an existing one);
* :func:`bench.trace_sources.report`'s per-object-class orders of the last
  search's executions (how many executions would remain if that class's order
  did not matter), and how many distinct traces (dpor's ``trace_key``, by the
  relation races were reversed with) its executions were.

    python -m bench.mixed_sources --scenario mixed-b --version upstream --time-limit 120
    python -m bench.mixed_sources --scenario mixed-a --version v5 --fine   # no contiguity
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.trace_sources import Described, object_class, report
from checker import actions as A
from checker import explore
from checker.schedulers.dpor import DPOR
from checker.schedulers.contiguity import spans_of
from checker.schedulers.reversal import touched
from model.registry import make_build, variant_for


class Profiled(Described):
    """:class:`Described` that also counts sections, splits and inserted races."""

    def __init__(self, contiguous=True):
        super().__init__()
        self.keys = set()           # the traces (dpor's trace_key) of the executions
        self.contiguous_sections = contiguous
        self.races = Counter()      # (task k, task j, why) -> insertions
        self.steps = Counter()      # task -> scheduled steps over every execution
        self.split = Counter()      # task -> sections of several events
        self.stoppers = Counter()   # (task, object class) -> groups stopped inside a section
        self.runs = 0
        self.searches = 1

    def reset(self):
        keep = (self.races, self.steps, self.split, self.stoppers, self.runs, self.searches)
        # As explore's string "dpor" starts again: a new search, guards kept.
        DPOR.__init__(self, trace_keys=True)
        self.traces = []
        (self.races, self.steps, self.split, self.stoppers, self.runs, self.searches) = keep
        self.searches += 1

    def _name(self, uid):
        return object_class({**self._guessed, **self.names}.get(uid, str(uid)))

    def _insert(self, k, ej, j, evs, hb, cpu_oc, tail=None):
        ek = evs[k]
        mine = {o: kd for o, kd, _, _ in touched(ej)}
        why = sorted({self._name(o) for o, kd, _, _ in touched(ek) if o in mine})
        names = self.task_names_now
        self.races[(names[ek.task], names[ej.task], "+".join(why) or "cpu")] += 1
        return super()._insert(k, ej, j, evs, hb, cpu_oc, tail)

    def _learn_names(self, world):
        """Name every object by the plain steps (a grouped step's action is its first)."""
        names = self.names
        for e in world.events:
            a = e.action
            o = a.obj
            if o is None or not hasattr(o, "uid"):
                continue
            names.setdefault(o.uid, o.name)
            if hasattr(o, "pin_uid"):
                names.setdefault(o.pin_uid, o.name + ".pin")
            if a.op == A.ADD and a.arg2 is not None:
                f = a.arg2[0]
                names.setdefault(f.uid, f.name)
                names.setdefault(f.pin_uid, f.name + ".pin")

    def end_execution(self, world, status):
        self._learn_names(world)
        self.runs += 1
        self.task_names_now = [ts.name for ts in world.tasks]
        evs = world.sched_events
        for e in evs:
            self.steps[world.tasks[e.task].name] += 1
        sp = spans_of(evs)
        if sp is not None:
            # A section of one event changes no ownership: only split ones are spans.
            for c, t, s, m in sp.items:
                name = world.tasks[t].name
                mine = [x for x in range(s, m + 1) if evs[x].task == t]
                if len(mine) > 1:
                    self.split[name] += 1
                    for x in mine[1:]:
                        # The step that began a new event: what it touched.
                        for o, _, _, _ in touched(evs[x]):
                            self.stoppers[(name, self._name(o))] += 1
        super().end_execution(world, status)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--version", default="upstream")
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--cpus", type=int, default=None, help="default: the scenario's own")
    ap.add_argument("--time-limit", type=float, default=120)
    ap.add_argument("--fine", action="store_true", help="without the contiguity relation")
    a = ap.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    build, params = make_build(variant_for(a.version, None), a.scenario, 1, a.cpus)
    sched = Profiled(contiguous=not a.fine)
    began = time.perf_counter()
    r = explore(build, scheduler=sched, properties=[], time_limit=a.time_limit)
    print(f"{a.version} {a.scenario} depth 1, {params.get('cpus')} CPUs, contiguity "
          f"{'off' if a.fine else 'on'}: {r.executions:,} executions "
          f"({'complete' if r.complete else 'incomplete'}), {r.redundant:,} redundant, "
          f"{time.perf_counter() - began:.1f} s; {sched.runs:,} runs in {sched.searches} "
          f"search(es); fine fallbacks {sched.fine_fallbacks}")
    print(f"distinct traces among the last search's executions (the happens-before dpor "
          f"reversed races with): {len(sched.keys):,}")
    if r.note:
        print(f"note: {r.note}")
    print("\n| task | steps per run | split sections |")
    print("|---|---|---|")
    for t in sorted(sched.steps):
        print(f"| {t} | {sched.steps[t] / max(sched.runs, 1):.1f} | {sched.split[t]:,} |")
    print("\n| task | object class starting a section's later event | count |")
    print("|---|---|---|")
    for (t, o), n in sched.stoppers.most_common(15):
        print(f"| {t} | `{o}` | {n:,} |")
    print("\n| earlier task | later task | race on | sequences inserted |")
    print("|---|---|---|---|")
    for (x, y, why), n in sched.races.most_common(25):
        print(f"| {x} | {y} | `{why}` | {n:,} |")
    print()
    report(sched.traces, sched.task_names, {**sched._guessed, **sched.names})
    return 0


if __name__ == "__main__":
    sys.exit(main())
