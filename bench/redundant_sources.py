"""Where dpor's redundant (sleep-set-blocked) runs start (issue 14 item 1).

A blocked run starts at the node the search backtracked to; that node's
step is either a branch for another value of a choice (``DPOR._other_values``)
or a step of a wakeup sequence the race reversal inserted.  This runs the
unsplit dpor search of each scenario and counts its blocked runs by that
origin (docs/benchmarks.md, "Redundant executions").

    python -m bench.redundant_sources --scenario read-migrate --cpus 1
    python -m bench.redundant_sources --version v5 --depth 2 --scenario malloc-free --cpus 1
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter

if __package__ in (None, ""):     # run as a script: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from checker import explore
from checker.schedulers.dpor import DPOR
from model.registry import make_build, variant_for


class Classified(DPOR):
    """dpor, remembering which branches were other values of a choice."""

    def __init__(self):
        super().__init__()
        self.values = {}            # id(node) -> keys added as other values there
        self.origins = Counter()

    def _other_values(self, world, node) -> None:
        before = {c.key for c in node.wakeup}
        super()._other_values(world, node)
        added = {c.key for c in node.wakeup} - before
        if added:
            self.values.setdefault(id(node), set()).update(added)

    def pick(self, world, enabled):
        got = super().pick(world, enabled)
        if got is None:
            start = self.nodes[self.new_from]
            other = start.key in self.values.get(id(start), ())
            self.origins["other value of a choice" if other else "race reversal"] += 1
        return got


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--version", default="upstream")
    ap.add_argument("--depth", type=int, default=1)
    ap.add_argument("--scenario", action="append", required=True)
    ap.add_argument("--cpus", type=int, default=None, help="default: the scenario's own")
    a = ap.parse_args(argv)
    print("| scenario | CPUs | executions | redundant | started at |")
    print("|---|---|---|---|---|")
    for name in a.scenario:
        build, params = make_build(variant_for(a.version, None), name, a.depth, a.cpus)
        sched = Classified()
        r = explore(build, scheduler=sched, properties=[])
        where = ", ".join(f"{k}: {n:,}" for k, n in sched.origins.most_common()) or "-"
        print(f"| {name} | {params.get('cpus')} | {r.executions:,} | {r.redundant:,} | {where} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
