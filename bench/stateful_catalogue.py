"""How many examples the state machine needs to find each expressible mutation on ``large``.

For every mutation of the catalogue the machine can express (``m.expressible and m.cls``),
the machine runs on its base version on the ``large`` scenario, checking only the
mutation's expected property (none for a model BUG_ON, which is always reported), without
shrinking and without a database: runs of ``--chunk`` examples with Hypothesis seeds 0, 1,
2, ... until the expected property is violated, ``--budget`` examples or ``--seconds`` pass.
A run that ends on another property (or a ModelError) goes on with the next seed.
Deterministic: the same code gives the same table (the seconds aside).

Columns: examples in all until the violation, seconds, the seed whose run found it and
the examples of that run (what tests/test_stateful_catalogue.py replays), found.

    python -m bench.stateful_catalogue [--mutation NAME ...] [--chunk 100] [--budget 3000]
                                       [--seconds 120] [--jobs 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import seed as fixed_seed
from hypothesis.stateful import run_state_machine_as_test


def expressible() -> list:
    """The mutations the machine can show: expressible, on the default kernel configuration
    and memory model (the machine runs !PREEMPT_RT and sc; the RT-only and weak-memory
    ones are the exhaustive search's, tests/model/test_model_mutations.py)."""
    from model.registry import MUTATIONS
    return sorted(n for n, m in MUTATIONS.items()
                  if m.expressible and m.cls is not None and m.config == "default"
                  and m.memory_model == "sc")


def machine_for(name: str, variant: str | None = None):
    """The machine class for mutation ``name`` on ``large`` (``variant``: the base version
    instead, checking the mutation's property, for the silence check), and a counter of its
    examples."""
    from model.registry import MUTATIONS
    from model.stateful import ZsmallocMachine
    m = MUTATIONS[name]
    runs = [0]

    class Machine(ZsmallocMachine):
        scenario, trace_dir = "large", None
        properties = [] if m.expected_property == "bug" else [m.expected_property]

        def __init__(self):
            super().__init__()
            runs[0] += 1

    if variant is None:
        Machine.variant, Machine.mutation = m.base, name
    else:
        Machine.variant = variant
    return Machine, runs


def run_seed(machine, seed: int, examples: int):
    """Run ``examples`` examples of ``machine`` from Hypothesis seed ``seed``: the exception
    that ended the run (a ZsmcViolation, a ModelError...), or None."""
    from checker.hypothesis_constants import seed_only
    try:
        with seed_only():
            run_state_machine_as_test(fixed_seed(seed)(machine), settings=settings(
                max_examples=examples, phases=[Phase.generate], database=None, deadline=None,
                suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
                report_multiple_bugs=False))
    except Exception as exc:        # noqa: BLE001 - reported to the caller
        return exc
    return None


def replay(name: str, seed: int, examples: int, base: bool = False) -> dict:
    """One run (``base``: of the mutation's base version, with the mutation's property):
    ``{"property": the violated property or None, "examples": examples run, "error": ...}``."""
    from model.registry import MUTATIONS
    from model.stateful import ZsmcViolation
    machine, runs = machine_for(name, MUTATIONS[name].base if base else None)
    exc = run_seed(machine, seed, examples)
    prop = exc.violation.property if isinstance(exc, ZsmcViolation) else None
    return {"property": prop, "examples": runs[0],
            "error": None if exc is None or prop else f"{type(exc).__name__}: {exc}"}


def measure(name: str, chunk: int = 100, budget: int = 3000, seconds: float = 120.0) -> dict:
    from model.registry import MUTATIONS
    from model.stateful import ZsmcViolation
    expected = MUTATIONS[name].expected_property
    machine, runs = machine_for(name)
    start = time.perf_counter()
    others = []
    seed = 0
    while runs[0] < budget and time.perf_counter() - start < seconds:
        before = runs[0]
        exc = run_seed(machine, seed, chunk)
        if isinstance(exc, ZsmcViolation) and exc.violation.property == expected:
            return dict(name=name, prop=expected, examples=runs[0], seconds=time.perf_counter() - start,
                        seed=seed, in_seed=runs[0] - before, found=True, others=others)
        if exc is not None:
            others.append(getattr(getattr(exc, "violation", None), "property", type(exc).__name__))
        seed += 1
    return dict(name=name, prop=expected, examples=runs[0], seconds=time.perf_counter() - start,
                seed=None, in_seed=None, found=False, others=others)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mutation", action="append")
    ap.add_argument("--chunk", type=int, default=100)
    ap.add_argument("--budget", type=int, default=3000)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--jobs", type=int, default=1)
    a = ap.parse_args(argv)
    names = a.mutation or expressible()
    args = [(n, a.chunk, a.budget, a.seconds) for n in names]
    print("| mutation | expected property | examples | seconds | seed (examples in it) | found |")
    print("|---|---|---|---|---|---|")
    with ProcessPoolExecutor(a.jobs) as pool:
        for r in pool.map(_measure, args):
            where = f"{r['seed']} ({r['in_seed']})" if r["found"] else "-"
            note = f"; other: {', '.join(sorted(set(r['others'])))}" if r["others"] else ""
            print(f"| {r['name']} | {r['prop']} | {r['examples']} | {r['seconds']:.1f} | {where} | "
                  f"{'yes' if r['found'] else 'no'}{note} |", flush=True)
    return 0


def _measure(args):
    return measure(*args)


if __name__ == "__main__":
    sys.exit(main())
