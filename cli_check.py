"""``zsmc check`` once its input is validated: explore, persist, report.

The guarantees this module keeps (docs/cli.md, "Guarantees"):

* one wall-clock budget (``--time-limit``) for the whole check, the split
  search included; work finished within it is counted, and whatever ran out
  makes the scenario incomplete, never verified;
* every violation found is written and printed, whatever else happens: a
  budget running out, Ctrl-C or SIGTERM (the report then says interrupted and
  the JSON document is still one valid document), a trace file that cannot be
  written (the violation is printed with the reason);
* files are written through private temporary names and atomic renames
  (:func:`checker.trace.write_atomic`), so runs sharing ``--out`` lose nothing.
"""

from __future__ import annotations

import importlib
import json
import os
import shlex
import sys
import time
from dataclasses import dataclass, field

import click

import cli_format as fmt
from checker.budget import SearchInterrupted, clear_interrupt, signal_of, sigterm_interrupts
from checker.errors import UsageError, ZsmcError

PROGRAM_LOADER = "model.registry:build_from_params"
# Per trace written by ``check``: long enough for z3 to prove the small traces
# of the catalogue optimal, short enough that a check with a few violations
# still answers in seconds.  ``zsmc minimize`` takes its own --time-limit.
CHECK_MINIMIZE_TIME = 10.0


@dataclass
class Check:
    """The validated settings of one ``zsmc check`` and what it found so far."""

    reg: object
    cls: type
    label: str
    builds: list                       # [(scenario name, build, params)]
    header: dict
    scheduler: str
    preemption_bound: object
    props: object
    max_executions: int | None
    time_limit: float | None
    seed: int
    output: str
    out: str
    no_minimize: bool
    executions: int | None
    pct_depth: int
    jobs: int
    dask: str | None
    checkpoint: str | None
    resume: str | None
    cpus: int | None
    depth: int
    max_steps: int | None
    show_coverage: bool = False
    quiet: bool = False
    all_steps: bool = False
    note: str | None = None           # printed after the result line
    runs: list = field(default_factory=list)
    deadline: float | None = None
    interrupted: int | None = None     # the signal that stopped the check
    reported: set = field(default_factory=set)     # indices into builds

    @property
    def sampled(self) -> bool:
        return self.scheduler in ("random", "pct", "hypothesis")

    @property
    def pooled(self) -> bool:
        """Several scenarios' subtrees on one pool of processes."""
        return self.jobs > 1 and self.dask is None and not (self.checkpoint or self.resume) \
            and len(self.builds) > 1


def run(c: Check) -> int:
    """Explore every scenario, write and print what was found; the exit code."""
    text = c.output == "text"
    if text and not c.quiet:
        click.echo(fmt.check_header(c.header, list(dict.fromkeys(n for n, _, _ in c.builds))))
    c.deadline = None if c.time_limit is None else time.monotonic() + c.time_limit
    results = {}
    with sigterm_interrupts():
        try:
            if c.pooled:
                results = _explore_pooled(c)
            for index, (name, build, params) in enumerate(c.builds):
                if index not in results:
                    results[index] = _explore_one(c, name, build, params)
                _report(c, index, params, results[index], text)
        except KeyboardInterrupt as exc:     # Ctrl-C or SIGTERM, inside a search or between two
            clear_interrupt()
            c.interrupted = signal_of(exc)
            partial = getattr(exc, "result", None)
            if not isinstance(partial, dict):
                partial = {_current(c, results): partial}
            results.update({k: v for k, v in partial.items() if v is not None})
            _report_interrupted(c, results, text)
    unrun = [] if c.interrupted else _never_ran(c)
    code = fmt.exit_code(c.runs, c.interrupted, unrun)
    if text:
        if c.show_coverage:
            click.echo(fmt.coverage_text(c.runs, _kernel_functions(c)))
        click.echo(fmt.check_footer(c.runs, code))
        for line in fmt.never_ran_lines(unrun):
            click.echo(line)
        if c.note:
            click.echo(c.note)
    else:
        if c.note:
            c.header["note"] = c.note
        click.echo(fmt.check_json(c.header, c.runs, code, unrun))
    return code


def _kernel_functions(c: Check) -> list:
    if not hasattr(c.reg, "base_version"):
        return []
    return importlib.import_module("model.coverage").kernel_functions(c.cls)


def _never_ran(c: Check) -> list:
    """``[(function, where it would run)]`` for each function the variant changes
    that no explored execution ran (exit 5 when nothing else failed)."""
    base_of = getattr(c.reg, "base_version", None)
    if base_of is None:
        return []
    cov = importlib.import_module("model.coverage")
    total = {}
    for r in c.runs:
        for k, n in r.result.coverage.items():
            total[k] = total.get(k, 0) + n
    missing = cov.never_ran(c.cls, base_of(c.cls), total)
    return [(fn, cov.where_it_runs(base_of(c.cls), fn, c.depth, c.reg)) for fn in missing]


def _current(c: Check, results: dict) -> int:
    """The build being explored when an interrupt came (the first without a result)."""
    return next((i for i in range(len(c.builds)) if i not in results), len(c.builds) - 1)


def _report(c: Check, index: int, params, result, text: bool) -> None:
    name = c.builds[index][0]
    c.reported.add(index)
    run_ = fmt.ScenarioRun(name, params, result)
    # Persist before anything is said about a violation (style.md lesson 10).
    for v in result.violations:
        budget = None if c.no_minimize or c.interrupted else _minimize_budget(c.deadline)
        run_.traces.append(_write_trace(c, v, params, name, budget))
    c.runs.append(run_)
    report = fmt.scenario_text(run_, quiet=c.quiet, all_steps=c.all_steps) if text else ""
    if report:
        click.echo(report)


def _report_interrupted(c: Check, results: dict, text: bool) -> None:
    """After Ctrl-C or SIGTERM: the scenarios not reported yet, then those never started."""
    from checker.result import Result
    for index, (name, _, params) in enumerate(c.builds):
        if index in c.reported:
            continue
        r = results.get(index)
        if r is None:
            r = Result(scheduler=c.scheduler, reason="not explored: interrupted before it started")
        elif not r.complete and "interrupted" not in r.reason:
            r.reason = "interrupted" + (f" ({r.reason})" if r.reason else "")
        _report(c, index, params, r, text)


def _left(c: Check):
    return None if c.deadline is None else c.deadline - time.monotonic()


def _explore_one(c: Check, name, build, params):
    from checker import explore
    from checker.result import Result

    left = _left(c)
    if left is not None and left <= 0:
        return Result(scheduler=c.scheduler, reason=f"time limit of {c.time_limit:g}s reached before it started")
    progress = (fmt.JsonProgress(sys.stderr, name) if c.output == "json" else fmt.Progress.for_stderr(name))
    common = {"properties": c.props, "max_executions": c.max_executions, "time_limit": left,
              "on_progress": progress}
    try:
        if c.scheduler == "hypothesis":
            result = _hypothesis(c, name, build, params)
        elif c.sampled:
            from checker.schedulers import make_scheduler
            sched = make_scheduler(c.scheduler, preemption_bound=c.preemption_bound, seed=c.seed,
                                   executions=c.executions or 1000, depth=c.pct_depth)
            result = explore(build, scheduler=sched, seed=c.seed, max_steps=c.max_steps, **common)
        elif c.scheduler == "dpor" and c.preemption_bound is None:
            # Serial or not, the same subtrees in the same order (checker.parallel):
            # --jobs N reports what the serial search reports.
            from checker.parallel import explore_split
            # Dask workers rebuild the program of the user's own check: its variant file is trusted.
            own = {"loader": c.reg.OWN_LOADER, "params": params} if c.dask else None
            result = explore_split(build, jobs=c.jobs, dask=c.dask, program=own, checkpoint=c.checkpoint,
                                   resume=c.resume, key=params, stop_on_violation=True,
                                   max_steps=c.max_steps, **common)
        elif c.preemption_bound == "auto":
            from checker.bounded import explore_auto_bound
            result = explore_auto_bound(build, scheduler=c.scheduler, seed=c.seed, max_steps=c.max_steps,
                                        **common)
        elif c.scheduler == "dpor":
            from checker.bounded import explore_within_bound
            result = explore_within_bound(build, c.preemption_bound, seed=c.seed, max_steps=c.max_steps,
                                          **common)
        else:
            result = explore(build, scheduler=c.scheduler, preemption_bound=c.preemption_bound,
                             seed=c.seed, max_steps=c.max_steps, **common)
    finally:
        if progress is not None:
            progress.done()
    _name_time_limit(c, result)
    return result


def _name_time_limit(c: Check, result) -> None:
    if not result.complete and result.reason.startswith("time limit of"):
        # explore saw only what was left of the budget; name the one the user gave.
        rest = result.reason.split(" reached", 1)[1] if " reached" in result.reason else ""
        result.reason = f"time limit of {c.time_limit:g}s reached{rest}"


def _explore_pooled(c: Check) -> dict:
    """``--jobs N`` over several scenarios: every scenario's subtrees on one pool,
    the scenarios that are largest at depth 1 first (a cheap estimate of their
    size).  Returns ``{index in builds: Result}``."""
    from checker import explore
    from checker.parallel import explore_split_many
    weights = []
    for name, _, params in c.builds:
        small, _ = c.reg.make_build(c.cls, name, 1, params.get("cpus", c.cpus))
        weights.append(explore(small, scheduler="dpor", properties=[], max_executions=10_000).executions)
    names = list(range(len(c.builds)))
    progress = fmt.JsonProgress(sys.stderr, "all") if c.output == "json" else fmt.Progress.for_stderr("all")
    try:
        results = explore_split_many([b for _, b, _ in c.builds], jobs=c.jobs, properties=c.props,
                                     time_limit=_left(c), max_executions=c.max_executions,
                                     weights=weights, stop_on_violation=True, max_steps=c.max_steps,
                                     on_progress=progress)
    except SearchInterrupted as exc:
        exc.result = dict(zip(names, exc.result))
        raise
    finally:
        if progress is not None:
            progress.done()
    out = dict(zip(names, results))
    for r in out.values():
        _name_time_limit(c, r)
    return out


def _hypothesis(c: Check, name, build, params):
    """The Hypothesis search of one scenario; the params of the failing build replace ``params``.

    A model registry with a ``stateful_search`` (zsmalloc's: the state machine of
    model/stateful.py) runs that; otherwise Hypothesis draws each schedule of the
    scenario (checker.hypothesis_search).  On ``--scenario large`` both draw the pool
    (classes, zspages, clients, objects, CPUs) too, so a failure shrinks to a small one.
    """
    machine = getattr(c.reg, "stateful_search", None)
    if machine is not None:
        result, drawn, _ = machine(c.cls, name, cpus=None if name == "large" else params["cpus"],
                                   depth=c.depth, max_examples=c.executions or 200, seed=c.seed,
                                   properties=c.props)
        if drawn is not params:
            params.clear()
            params.update(drawn)
        return result
    from checker.hypothesis_search import hypothesis_search
    drawn = {}
    if name == "large":
        from model.large import draw_build

        def for_draw(data):
            b, p = draw_build(data, c.cls, c.depth)
            drawn[id(b)] = p
            return b
    else:
        def for_draw(data):
            return build
    out = hypothesis_search(for_draw, max_examples=c.executions or 200, seed=c.seed, properties=c.props,
                            key=json.dumps(params, sort_keys=True))
    if out.build is not None and id(out.build) in drawn:
        params.clear()
        params.update(drawn[id(out.build)])
    return out.result


def _minimize_budget(deadline) -> float:
    """Seconds for one minimisation: CHECK_MINIMIZE_TIME, cut to what --time-limit leaves (>= 1 s)."""
    if deadline is None:
        return CHECK_MINIMIZE_TIME
    return max(1.0, min(CHECK_MINIMIZE_TIME, deadline - time.monotonic()))


def _write_trace(c: Check, violation, params, scenario, minimize_time) -> fmt.TraceRecord:
    """Save the violation's trace, then replace it by its minimisation if that works.

    ``minimize_time`` None: keep the trace as found.  A trace that cannot be
    written is reported in the record (``path`` None), never lost silently:
    the violation is still printed.
    """
    from checker import trace as tr
    meta = fmt.check_command(c.header, scenario, params)
    trace = tr.make_trace(violation, {"loader": PROGRAM_LOADER, "params": params},
                          expect="violation", meta=meta)
    try:
        path = tr.save_trace(trace, c.out)
    except UsageError as exc:
        click.echo(f"zsmc: error: {exc}; the violation is printed below", err=True)
        return fmt.TraceRecord(violation, None, note=f"trace NOT written: {exc}")
    rec = fmt.TraceRecord(violation, str(path), trace=trace)
    if isinstance(params, dict) and params.get("variant_file"):
        rec.args = f" --variant {shlex.quote(c.label)}"
    if minimize_time is not None:
        from checker.minimize import minimize_trace
        try:
            small, report = minimize_trace(trace, time_limit=minimize_time)
            tr.save_trace(small, os.path.dirname(path) or ".", name=os.path.basename(path))
            rec.minimized, rec.trace = report, small
        except ZsmcError as exc:  # keep the trace as found; say why it was not minimised
            rec.note = f"not minimised: {exc}"
    return rec


# -- files, checked before the search ------------------------------------------------------------
def check_out_dir(out: str) -> None:
    """``--out`` must be a writable directory, or creatable in one: checked before any search."""
    if os.path.exists(out):
        if not os.path.isdir(out):
            raise UsageError(f"--out {out} is not a directory")
        if not os.access(out, os.W_OK | os.X_OK):
            raise UsageError(f"--out {out} is not writable")
        return
    parent = _existing_parent(out)
    if not os.path.isdir(parent):
        raise UsageError(f"--out {out} cannot be created: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out} cannot be created: {parent} is not writable")


def check_file_target(option: str, path: str) -> None:
    """A file zsmc will write (``--checkpoint``): its directory exists and is writable."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"{option} {path} is a directory")
    if not os.path.isdir(folder):
        raise UsageError(f"{option} {path}: no such directory {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: directory {folder} is not writable")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise UsageError(f"{option} {path} is not writable")


def _existing_parent(path: str) -> str:
    p = os.path.abspath(path)
    while not os.path.exists(p):
        up = os.path.dirname(p)
        if up == p:
            break
        p = up
    return p
