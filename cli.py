"""zsmc's command line: ``check``, ``replay``, ``minimize``, ``show``, ``list``.

Thin by design (ARCHITECTURE.md section 7): parse, call the engine, the model
registry and the trace modules, print.  Formatting lives in
:mod:`cli_format`; everything heavy is imported inside the command that needs
it, so ``zsmc --help`` and ``zsmc list`` start fast.

Exit codes (docs/cli.md):

====  ======================================================================
0     pass: every scenario explored completely, nothing violated
      (``replay``: the trace does not violate)
1     a violation was found (``replay``: the trace violates)
2     bad usage or input: one line on stderr, never a traceback
3     incomplete, not verified: a budget ran out before the search finished,
      and no violation was found in what was explored
4     a bug in zsmc itself (one line; ``ZSMC_DEBUG=1`` shows the traceback)
130   interrupted (Ctrl-C)
====  ======================================================================

Every :class:`checker.errors.ZsmcError` and every click usage error ends the
command through :meth:`Zsmc.main`, which prints ``zsmc: error: ...`` on one line.
"""

from __future__ import annotations

import importlib
import json
import os
import shlex
import sys
import time

import click

import cli_complete as complete
import cli_format as fmt
from checker import __version__
from checker.errors import InternalError, UsageError, ZsmcError

EXIT_PASS, EXIT_VIOLATION, EXIT_USAGE, EXIT_INCOMPLETE, EXIT_INTERNAL = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130  # Ctrl-C, the shell's convention

DEFAULT_VARIANT = "upstream"
DEFAULT_OUT = "zsmc-traces"
# Per trace written by ``check``: long enough for z3 to prove the small traces
# of the catalogue optimal, short enough that a check with a few violations
# still answers in seconds.  ``zsmc minimize`` takes its own --time-limit.
CHECK_MINIMIZE_TIME = 10.0
PROGRAM_LOADER = "model.registry:build_from_params"


class Zsmc(click.Group):
    """The ``zsmc`` group: turns every error into one line and an exit code."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args, prog_name or "zsmc", complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else EXIT_PASS
        except click.exceptions.Abort:
            _error("interrupted: nothing verified")
            code = EXIT_INTERRUPTED
        except click.ClickException as exc:
            _error(exc.format_message())
            code = EXIT_USAGE
        except InternalError as exc:
            code = _internal(exc)
        except ZsmcError as exc:
            _error(str(exc))
            code = EXIT_USAGE
        except Exception as exc:  # noqa: BLE001  (a bug in zsmc: say so on one line)
            code = _internal(exc)
        if standalone_mode:
            sys.exit(code)
        return code

    def parse_args(self, ctx, args):
        # A bare `zsmc` is a usage error (exit 2) with the help on stderr, the same
        # on every click version (8.1 exits 0 there, 8.2 raises NoArgsIsHelpError).
        if not args and not ctx.resilient_parsing:
            click.echo(ctx.get_help(), err=True)
            ctx.exit(EXIT_USAGE)
        return super().parse_args(ctx, args)


def _error(message: str) -> None:
    # One line whatever the message: a multi-line model error is folded.
    line = "; ".join(part.strip() for part in str(message).splitlines() if part.strip())
    click.echo(f"zsmc: error: {line}", err=True)


def _internal(exc: Exception) -> int:
    if os.environ.get("ZSMC_DEBUG"):
        raise exc
    text = str(exc) if isinstance(exc, InternalError) else f"[zsmc internal bug] {type(exc).__name__}: {exc}"
    _error(f"{text} (rerun with ZSMC_DEBUG=1 for the traceback, and please report it)")
    return EXIT_INTERNAL


class PositiveInt(click.ParamType):
    """An integer >= ``low``, with a message that names the option and the value."""

    name = "integer"

    def __init__(self, low: int = 1):
        self.low = low

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            n = value
        else:
            try:
                n = int(str(value).strip(), 10)
            except ValueError:
                n = None
        if n is None or n < self.low:
            what = "a positive integer" if self.low == 1 else f"an integer >= {self.low}"
            self.fail(f"must be {what}, got {value!r}", param, ctx)
        return n


class BoundType(PositiveInt):
    """A preemption bound: a non-negative integer or ``auto``."""

    name = "bound"

    def __init__(self):
        super().__init__(0)

    def convert(self, value, param, ctx):
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            self.fail(f"must be a non-negative integer or auto, got {value!r}", param, ctx)


def _load(module: str):
    """Import one of zsmc's own modules; a missing one is an installation problem."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise UsageError(f"cannot import {module} ({exc}); is zsmc installed (pip install -e .)?") from exc


@click.group(cls=Zsmc, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="zsmc")
def main():
    """zsmc: a model checker for the locking protocol of Linux zsmalloc.

    Exit codes: 0 pass, 1 violation, 2 bad usage or input, 3 incomplete (a
    budget ran out: not verified), 4 internal error.
    """


# --------------------------------------------------------------------------- check
@main.command(short_help="Explore the scenarios and check the properties.")
@click.option("--depth", type=PositiveInt(1), default=1, show_default=True,
              help="Operations per client task (and rounds per background task).")
@click.option("--variant", metavar="NAME|FILE:CLASS", default=None, shell_complete=complete.variants,
              help=f"Built-in version or a subclass of one (default {DEFAULT_VARIANT}, "
                   "or the mutation's base version).")
@click.option("--mutation", metavar="NAME", default=None, help="Seeded bug to check (zsmc list mutations).",
              shell_complete=complete.mutations)
@click.option("--scenario", "scenarios", metavar="NAME", multiple=True, shell_complete=complete.scenarios,
              help="Scenario to explore (repeatable; default: the default scenario set).")
@click.option("--cpus", type=PositiveInt(1), default=None, help="CPUs (default: each scenario's own).")
@click.option("--scheduler", metavar="NAME", default="dpor", show_default=True, shell_complete=complete.schedulers,
              help="Search (zsmc list schedulers).")
@click.option("--preemption-bound", type=BoundType(), default=None, metavar="K|auto",
              help="At most K preemptions per execution; auto: K = 0, 1, 2, ... until a "
                   "violation (with the fewest preemptions) or a bound that cuts nothing.")
@click.option("--property", "properties", metavar="NAME", multiple=True, shell_complete=complete.properties,
              help="Property to check (repeatable; default: every property that applies).")
@click.option("--max-executions", type=PositiveInt(1), default=None, metavar="N",
              help="Execution budget, per scenario.")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), default=None, metavar="S",
              help="Wall-clock budget in seconds for the whole check.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the randomised schedulers.")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--out", type=click.Path(file_okay=False), default=DEFAULT_OUT, show_default=True,
              help="Directory for the trace files of violations.")
@click.option("--no-minimize", is_flag=True, help="Write traces as found, without z3 minimisation.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the result line and the trace files.")
@click.option("--all-steps", is_flag=True,
              help="Print every step of a violation's trace, not only lock and preemption steps.")
@click.option("--executions", type=PositiveInt(1), default=None, metavar="N",
              help="Executions per scenario of a sampled scheduler (random, pct: 1000; "
                   "hypothesis: examples, 200).")
@click.option("--pct-depth", type=PositiveInt(1), default=3, show_default=True, metavar="D",
              help="The bug depth d of the pct scheduler.")
@click.option("--jobs", type=PositiveInt(1), default=1, show_default=True, metavar="N",
              help="Explore independent subtrees of the dpor search on N processes.")
@click.option("--dask", metavar="ADDRESS", default=None,
              help="Explore the subtrees on a Dask cluster (tcp://host:8786; pip install 'zsmc[dask]').")
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Save finished subtrees of a split search to FILE as they finish (one scenario).")
@click.option("--resume", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Continue the split search saved in FILE: its finished subtrees are not run again.")
def check(depth, variant, mutation, scenarios, cpus, scheduler, preemption_bound, properties,
          max_executions, time_limit, seed, output, out, no_minimize, quiet, all_steps, executions,
          pct_depth, jobs, dask, checkpoint, resume):
    """Explore every interleaving of the scenarios and check the properties.

    Every violation is written as a trace file under --out (minimised unless
    --no-minimize) before it is reported; `zsmc replay PATH` reproduces it.
    Exit 0 only when every scenario was explored completely without violation;
    3 means a budget ran out first: incomplete, not verified.
    """
    from checker import explore
    from checker.result import Result

    reg = _load("model.registry")
    label, cls = _resolve_variant(reg, variant, mutation)
    names = list(dict.fromkeys(scenarios)) or _default_scenarios(reg)   # --scenario X twice: once
    props = _check_properties(properties)
    auto = preemption_bound == "auto"
    if auto and scheduler not in ("dpor", "dfs"):
        raise UsageError(f"--preemption-bound auto needs an exhaustive scheduler (dpor, dfs), not {scheduler!r}")
    sampled = scheduler in ("random", "pct", "hypothesis")
    if executions is not None and not sampled:
        raise UsageError("--executions sets how many executions a sampled scheduler (random, pct, "
                         "hypothesis) runs; an exhaustive search's budget is --max-executions")
    if scheduler == "hypothesis":
        if preemption_bound is not None:
            raise UsageError("--preemption-bound does not apply to --scheduler hypothesis")
    else:
        _check_scheduler(scheduler, 0 if auto else preemption_bound, seed)
    split = jobs > 1 or dask is not None or checkpoint is not None or resume is not None
    if split and (scheduler != "dpor" or preemption_bound is not None):
        raise UsageError("--jobs, --dask, --checkpoint and --resume split a dpor search without "
                         "a preemption bound")
    # Validate every scenario before exploring any: bad input costs no search time.
    builds = [(name, *reg.make_build(cls, name, depth, cpus)) for name in names]
    if (checkpoint or resume) and len(builds) != 1:
        raise UsageError("--checkpoint and --resume need exactly one --scenario")

    header = {"variant": label, "mutation": mutation, "depth": depth, "scheduler": scheduler,
              "preemption_bound": preemption_bound, "seed": seed, "properties": props,
              "max_executions": max_executions, "time_limit": time_limit}
    text = output == "text"
    if text and not quiet:
        click.echo(fmt.check_header(header, [n for n, _, _ in builds]))
    runs = []
    deadline = None if time_limit is None else time.monotonic() + time_limit
    pooled = {}
    if split and jobs > 1 and dask is None and not (checkpoint or resume) and len(builds) > 1:
        pooled = _explore_pooled(reg, cls, builds, cpus, jobs, props, time_limit, max_executions)
    for name, build, params in builds:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            result = Result(scheduler=scheduler, reason=f"time limit of {time_limit:g}s reached before it started")
        else:
            progress = (fmt.JsonProgress(sys.stderr, name) if output == "json"
                        else fmt.Progress.for_stderr(name))
            try:
                if scheduler == "hypothesis":
                    result, params = _hypothesis(reg, cls, name, build, params, depth, executions,
                                                 seed, props)
                elif sampled:
                    from checker.schedulers import make_scheduler
                    sched = make_scheduler(scheduler, preemption_bound=preemption_bound, seed=seed,
                                           executions=executions or 1000, depth=pct_depth)
                    result = explore(build, scheduler=sched, properties=props,
                                     max_executions=max_executions, time_limit=left, seed=seed,
                                     on_progress=progress)
                elif name in pooled:
                    result = pooled[name]
                elif split:
                    from checker.parallel import explore_split
                    result = explore_split(build, jobs=jobs, properties=props, dask=dask, params=params,
                                           checkpoint=checkpoint, resume=resume, time_limit=left,
                                           max_executions=max_executions, key=params,
                                           on_progress=progress)
                elif auto:
                    from checker.bounded import explore_auto_bound
                    result = explore_auto_bound(build, scheduler=scheduler, properties=props,
                                                max_executions=max_executions, time_limit=left,
                                                seed=seed, on_progress=progress)
                else:
                    result = explore(build, scheduler=scheduler, properties=props,
                                     preemption_bound=preemption_bound, max_executions=max_executions,
                                     time_limit=left, seed=seed, on_progress=progress)
            finally:
                if progress is not None:
                    progress.done()
            if not result.complete and result.reason.startswith("time limit"):
                # explore saw only what was left of the budget; name the one the user gave.
                result.reason = f"time limit of {time_limit:g}s reached"
        run = fmt.ScenarioRun(name, params, result)
        # Persist before anything is said about a violation (style.md lesson 10).
        for v in result.violations:
            budget = None if no_minimize else _minimize_budget(deadline)
            run.traces.append(_write_trace(v, params, fmt.check_command(header, name, params), out, budget))
        runs.append(run)
        report = fmt.scenario_text(run, quiet=quiet, all_steps=all_steps) if text else ""
        if report:
            click.echo(report)
    code = fmt.exit_code(runs)
    if text:
        click.echo(fmt.check_footer(runs, code))
    else:
        click.echo(fmt.check_json(header, runs, code))
    return code


def _explore_pooled(reg, cls, builds, cpus, jobs, props, time_limit, max_executions) -> dict:
    """``--jobs N`` over several scenarios: every scenario's subtrees on one pool,
    the scenarios that are largest at depth 1 first (a cheap estimate of their
    size).  Returns ``{scenario: Result}``."""
    from checker import explore
    from checker.parallel import explore_split_many
    weights = []
    for name, _, _ in builds:
        small, _ = reg.make_build(cls, name, 1, cpus)
        weights.append(explore(small, scheduler="dpor", properties=[], max_executions=10_000).executions)
    results = explore_split_many([b for _, b, _ in builds], jobs=jobs, properties=props,
                                 time_limit=time_limit, max_executions=max_executions,
                                 weights=weights)
    return {name: r for (name, _, _), r in zip(builds, results)}


def _hypothesis(reg, cls, name, build, params, depth, executions, seed, props):
    """The Hypothesis search of one scenario: ``(result, params of the failing build)``.

    A model registry with a ``stateful_search`` (zsmalloc's: the state machine of
    model/stateful.py) runs that; otherwise Hypothesis draws each schedule of the
    scenario (checker.hypothesis_search).  On ``--scenario large`` both draw the pool
    (classes, zspages, clients, objects, CPUs) too, so a failure shrinks to a small one.
    """
    machine = getattr(reg, "stateful_search", None)
    if machine is not None:
        result, params, _ = machine(cls, name, cpus=None if name == "large" else params["cpus"],
                                    depth=depth, max_examples=executions or 200, seed=seed,
                                    properties=props)
        return result, params
    from checker.hypothesis_search import hypothesis_search
    drawn = {}
    if name == "large":
        from model.large import draw_build

        def for_draw(data):
            b, p = draw_build(data, cls, depth)
            drawn[id(b)] = p
            return b
    else:
        def for_draw(data):
            return build
    out = hypothesis_search(for_draw, max_examples=executions or 200, seed=seed, properties=props,
                            key=json.dumps(params, sort_keys=True))
    if out.build is not None:
        params = drawn.get(id(out.build), params)
    return out.result, params


def _resolve_variant(reg, variant, mutation):
    """(label, class) for --variant/--mutation; UsageError names the bad value."""
    if mutation is None:
        spec = variant or DEFAULT_VARIANT
        return spec, reg.load_variant(spec)
    m = reg.MUTATIONS.get(mutation)
    if m is None:
        raise UsageError(f"unknown mutation {mutation!r}; known mutations: {', '.join(sorted(reg.MUTATIONS))}")
    if not getattr(m, "expressible", True) or m.cls is None:
        raise UsageError(f"mutation {mutation!r} cannot be expressed in the model: {m.reason or 'no reason given'}")
    version = variant or m.base
    if version not in reg.VERSIONS:
        raise UsageError(f"--mutation applies to a built-in version, not {version!r}; "
                         f"versions: {', '.join(sorted(reg.VERSIONS))}")
    return f"{version}+{mutation}", reg.variant_for(version, mutation)


def _default_scenarios(reg) -> list:
    names = [n for n, s in reg.SCENARIOS.items() if getattr(s, "default", True)]
    if not names:
        raise UsageError("the model defines no default scenario; name one with --scenario "
                         "(zsmc list scenarios)")
    return names


def _check_properties(names):
    if not names:
        return None
    from checker.monitor import resolve
    for n in names:
        resolve(n)  # UsageError for an unknown or unloadable property
    return list(dict.fromkeys(names))


def _check_scheduler(name, preemption_bound, seed):
    from checker.schedulers import SCHEDULERS, make_scheduler
    if name not in SCHEDULERS:
        raise UsageError(f"unknown scheduler {name!r}; known schedulers: {', '.join(sorted(SCHEDULERS))}")
    try:
        make_scheduler(name, preemption_bound=preemption_bound, seed=seed)
    except ImportError as exc:
        raise UsageError(f"scheduler {name!r} is not available in this installation ({exc}); "
                         "try --scheduler dfs") from exc


def _minimize_budget(deadline) -> float:
    """Seconds for one minimisation: CHECK_MINIMIZE_TIME, cut to what --time-limit leaves (>= 1 s)."""
    if deadline is None:
        return CHECK_MINIMIZE_TIME
    return max(1.0, min(CHECK_MINIMIZE_TIME, deadline - time.monotonic()))


def _write_trace(violation, params, meta, out, minimize_time) -> fmt.TraceRecord:
    """Save the violation's trace, then replace it by its minimisation if that works.

    ``minimize_time`` None: keep the trace as found (--no-minimize).
    """
    tr = _load("checker.trace")
    trace = tr.make_trace(violation, {"loader": PROGRAM_LOADER, "params": params},
                          expect="violation", meta=meta)
    path = tr.save_trace(trace, out)
    rec = fmt.TraceRecord(violation, str(path), trace=trace)
    if minimize_time is not None:
        try:
            small, report = _load("checker.minimize").minimize_trace(trace, time_limit=minimize_time)
            tr.save_trace(small, os.path.dirname(path) or ".", name=os.path.basename(path))
            rec.minimized, rec.trace = report, small
        except ZsmcError as exc:  # keep the trace as found; say why it was not minimised
            rec.note = f"not minimised: {exc}"
    return rec


# --------------------------------------------------------------------------- replay
@main.command(short_help="Reproduce a trace file (exit 1: it violates).")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def replay(file):
    """Re-execute a trace file's schedule; exit 1 if it violates, 0 if it passes."""
    tr = _load("checker.trace")
    trace = tr.load_trace(file)
    outcome = tr.replay(trace)
    expect = trace.get("expect", "violation")
    click.echo(fmt.replay_text(file, expect, outcome))
    return EXIT_VIOLATION if outcome.violation is not None else EXIT_PASS


# --------------------------------------------------------------------------- minimize
@main.command(short_help="Minimise a trace file with z3.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False), default=None,
              help="Where to write the minimised trace (default: FILE with .min.json).")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              metavar="S", help="Seconds z3 may spend proving optimality.")
def minimize(file, out, time_limit):
    """Minimise a trace: fewest preemptions, then context switches, then steps."""
    tr = _load("checker.trace")
    trace = tr.load_trace(file)
    small, report = _load("checker.minimize").minimize_trace(trace, time_limit=time_limit)
    if out is None:
        out = file.removesuffix(".json") + ".min.json"
    path = tr.save_trace(small, os.path.dirname(out) or ".", name=os.path.basename(out))
    click.echo(fmt.minimize_text(report))
    click.echo(f"wrote {path}\nreplay: zsmc replay {shlex.quote(str(path))}")
    return EXIT_PASS


# --------------------------------------------------------------------------- show
@main.command(short_help="Print a trace for people, or write it as HTML.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--html", "html_out", type=click.Path(dir_okay=False), default=None, metavar="OUT.html",
              help="Write a self-contained HTML picture instead of printing text.")
@click.option("--all-steps", is_flag=True, help="Print every step, not only lock and preemption steps.")
def show(file, html_out, all_steps):
    """Print a trace for people, one column per CPU (or write it as HTML)."""
    trace = _load("checker.trace").load_trace(file)
    render = _load("checker.render")
    if html_out is None:
        click.echo(render.render_text(trace, all_steps=all_steps))
        return EXIT_PASS
    page = render.render_html(trace)
    try:
        with open(html_out, "w", encoding="utf-8") as f:
            f.write(page)
    except OSError as exc:
        raise UsageError(f"cannot write {html_out}: {exc.strerror}") from exc
    click.echo(f"wrote {html_out}")
    return EXIT_PASS


# --------------------------------------------------------------------------- list
LISTS = ("variants", "mutations", "properties", "scenarios", "schedulers")


@main.command("list", short_help="List variants, mutations, properties, scenarios, schedulers.")
@click.argument("what", type=click.Choice(LISTS), required=False)
def list_(what):
    """List what zsmc knows, one line of explanation each (no argument: what can be listed)."""
    if what is None:
        click.echo(fmt.table(fmt.LIST_ROWS))
        return EXIT_PASS
    if what == "properties":
        from checker.monitor import REGISTRY
        rows = fmt.property_rows(REGISTRY)
    elif what == "schedulers":
        from checker.schedulers import SCHEDULERS
        rows = sorted(SCHEDULERS.items())
    else:
        reg = _load("model.registry")
        rows = {"variants": fmt.variant_rows, "mutations": fmt.mutation_rows,
                "scenarios": fmt.scenario_rows}[what](reg)
    click.echo(fmt.table(rows) if rows else f"(no {what})")
    return EXIT_PASS


# --------------------------------------------------------------------------- variant
from cli_variant import variant

main.add_command(variant)


if __name__ == "__main__":
    main()
