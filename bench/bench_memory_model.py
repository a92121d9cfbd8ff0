"""The weak memory model's cost: dpor under ``sc`` and ``ra``, and dfs against dpor on the
litmus table (checker.memory_model, docs/memory-model.md).  Long runs: not a test.

For each version and scenario: dpor's executions and time under sc and under ra
(every property, depth 1, each CPU count of the scenario).  Then each litmus test of
tests/test_litmus.py without smp_mb: executions of dfs and dpor under ra.

    python -m bench.bench_memory_model
    python -m bench.bench_memory_model --scenario write-migrate --scenario free-deferred
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from checker import explore
from model.registry import SCENARIOS, cpu_counts, make_build
from model.versions import VERSIONS


def _run(build, scheduler):
    t = time.perf_counter()
    r = explore(build, scheduler=scheduler, stop_on_violation=False, time_limit=600)
    return r, time.perf_counter() - t


def model_rows(scenarios):
    print("version   scenario          cpus  sc: execs   time    ra: execs   time   ra verdict")
    for v in ("legacy", "v5", "upstream"):
        for name in scenarios:
            for c in cpu_counts(name, None):
                sc, tsc = _run(make_build(VERSIONS[v], name, 1, cpus=c)[0], "dpor")
                ra, tra = _run(make_build(VERSIONS[v], name, 1, cpus=c, memory_model="ra")[0], "dpor")
                verdict = ", ".join(sorted({x.property for x in ra.violations})) or (
                    "clean" if ra.complete else "incomplete")
                print(f"{v:9} {name:17} {c:4}  {sc.executions:9} {tsc:6.1f}s  {ra.executions:9} "
                      f"{tra:6.1f}s  {verdict}")


def litmus_rows():
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from test_litmus import TABLE, litmus
    print("\nlitmus            dfs execs  dpor execs (ra)")
    for name, (threads, final, _, _) in sorted(TABLE.items()):
        if "mb" in name or "xchgs" in name:
            continue            # smp_mb: dpor hands those to dfs
        build = litmus(threads, final, lock=name == "MP+locks")
        d = explore(build, scheduler="dfs", properties=[])
        p = explore(build, scheduler="dpor", properties=[])
        print(f"{name:17} {d.executions:9}  {p.executions:10}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", action="append", default=None,
                    help="scenario (repeatable; default: every default scenario)")
    args = ap.parse_args(argv)
    model_rows(args.scenario or [n for n, s in SCENARIOS.items() if s.default])
    litmus_rows()


if __name__ == "__main__":
    main()
