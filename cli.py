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
5     not a pass: explored completely without violation, but a function the
      variant or mutation changes never ran, so the check says nothing about it
130   interrupted by Ctrl-C (143: by SIGTERM) before a violation was found;
      what was found is still reported (docs/cli.md, "Interrupted runs")
====  ======================================================================

Every :class:`checker.errors.ZsmcError` and every click usage error ends the
command through :meth:`Zsmc.main`, which prints ``zsmc: error: ...`` on one line.
"""

from __future__ import annotations

import errno
import importlib
import math
import os
import shlex
import sys

import click

import cli_complete as complete
import cli_format as fmt
from checker import __version__
from checker.errors import InternalError, UsageError, ZsmcError

EXIT_PASS, EXIT_VIOLATION, EXIT_USAGE, EXIT_INCOMPLETE, EXIT_INTERNAL = 0, 1, 2, 3, 4
EXIT_VACUOUS = fmt.EXIT_VACUOUS
EXIT_INTERRUPTED = 130  # Ctrl-C, the shell's convention

DEFAULT_VARIANT = "upstream"
DEFAULT_OUT = "zsmc-traces"
# Deeper than this no exhaustive search finishes, and an execution outgrows
# the step cap (checker/budget.py): refused as input.
MAX_DEPTH = 50


class Zsmc(click.Group):
    """The ``zsmc`` group: turns every error into one line and an exit code."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if os.environ.get(complete_var or "_ZSMC_COMPLETE"):
            # Shell completion: click prints the script or the words and exits itself.
            return super().main(args, prog_name or "zsmc", complete_var, standalone_mode, **extra)
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
        except _OutputFailed as exc:
            code = _output_failed(exc.args[0])
        except SystemExit as exc:
            # click exits through its own exceptions here (standalone_mode=False):
            # a SystemExit comes from a model's code, and is never a pass.
            _error(f"the model called sys.exit({exc.code!r}); a model must not exit (a kernel BUG is "
                   "a checker.Bug or an assert)")
            code = EXIT_USAGE
        except Exception as exc:  # noqa: BLE001  (a bug in zsmc: say so on one line)
            code = _internal(exc)
        try:
            sys.stdout.flush()
        except OSError as exc:
            code = _output_failed(exc)
        if standalone_mode:
            sys.exit(code)
        return code

    def invoke(self, ctx):
        # Before click's own handler, which exits 1 (our "violation") on EPIPE.
        try:
            return super().invoke(ctx)
        except OSError as exc:
            if exc.errno in _OUTPUT_ERRORS:
                raise _OutputFailed(exc) from None
            raise

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


# A report that cannot be written (stdout on a full disk or a closed pipe) is
# the environment's fault, not zsmc's: one line, exit 2 (trace files are
# written before anything is printed, so nothing found is lost).
_OUTPUT_ERRORS = {errno.ENOSPC, errno.EPIPE, errno.EIO, errno.EDQUOT, errno.EFBIG, errno.EBADF}


class _OutputFailed(Exception):
    """Writing the report failed (the one OSError argument says why)."""


def _output_failed(exc: OSError) -> int:
    try:   # later writes (and the interpreter's final flush) go nowhere
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    _error(f"cannot write the output: {exc.strerror or exc}")
    return EXIT_USAGE


def _internal(exc: Exception) -> int:
    if os.environ.get("ZSMC_DEBUG"):
        raise exc
    text = str(exc) if isinstance(exc, InternalError) else f"[zsmc internal bug] {type(exc).__name__}: {exc}"
    _error(f"{text} (rerun with ZSMC_DEBUG=1 for the traceback, and please report it)")
    return EXIT_INTERNAL


# More CPUs than a scenario has tasks add nothing; the largest scenario has eight.
MAX_CPUS = 64


class PositiveInt(click.ParamType):
    """An integer >= ``low``, with a message that names the option and the value."""

    name = "integer"

    def __init__(self, low: int = 1, high: int | None = None):
        self.low = low
        self.high = high

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
        if self.high is not None and n > self.high:
            self.fail(f"must be at most {self.high}, got {value!r}", param, ctx)
        return n


class Seconds(click.ParamType):
    """A positive, finite number of seconds (``nan`` and ``inf`` are refused)."""

    name = "seconds"

    def convert(self, value, param, ctx):
        try:
            x = float(value)
        except (TypeError, ValueError):
            x = None
        if x is None or not math.isfinite(x) or x <= 0:
            self.fail(f"must be a positive, finite number of seconds, got {value!r}", param, ctx)
        return x


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
    budget ran out: not verified), 4 internal error, 5 not a pass (the code a
    variant changes never ran), 130/143 interrupted.
    """


# --------------------------------------------------------------------------- check
@main.command(short_help="Explore the scenarios and check the properties.")
@click.option("--depth", type=PositiveInt(1, MAX_DEPTH), default=1, show_default=True,
              help=f"Operations per client task (and rounds per background task), at most {MAX_DEPTH}.")
@click.option("--variant", metavar="NAME|FILE:CLASS", default=None, shell_complete=complete.variants,
              help=f"Built-in version or a subclass of one (default {DEFAULT_VARIANT}, "
                   "or the mutation's base version).")
@click.option("--mutation", metavar="NAME", default=None, help="Seeded bug to check (zsmc list mutations).",
              shell_complete=complete.mutations)
@click.option("--scenario", "scenarios", metavar="NAME", multiple=True, shell_complete=complete.scenarios,
              help="Scenario to explore (repeatable; default: the default scenario set).")
@click.option("--cpus", type=PositiveInt(1, MAX_CPUS), default=None,
              help=f"CPUs (default: each scenario's own), at most {MAX_CPUS}.")
@click.option("--scheduler", metavar="NAME", default="dpor", show_default=True, shell_complete=complete.schedulers,
              help="Search (zsmc list schedulers).")
@click.option("--preemption-bound", type=BoundType(), default=None, metavar="K|auto",
              help="At most K preemptions per execution; auto: K = 0, 1, 2, ... until a "
                   "violation (with the fewest preemptions) or a bound that cuts nothing.")
@click.option("--property", "properties", metavar="NAME", multiple=True, shell_complete=complete.properties,
              help="Property to check (repeatable; default: every property that applies).")
@click.option("--max-executions", type=PositiveInt(1), default=None, metavar="N",
              help="Execution budget, per scenario.")
@click.option("--time-limit", type=Seconds(), default=None, metavar="S",
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
@click.option("--coverage", "show_coverage", is_flag=True,
              help="Print which kernel functions ran in which scenarios (JSON always has it).")
@click.option("--max-steps", type=PositiveInt(1), default=None, metavar="N",
              help="Steps one execution may take before the model is declared runaway "
                   "(default 20000): a task that never finishes is an error, not a hang.")
def check(depth, variant, mutation, scenarios, cpus, scheduler, preemption_bound, properties,
          max_executions, time_limit, seed, output, out, no_minimize, quiet, all_steps, executions,
          pct_depth, jobs, dask, checkpoint, resume, show_coverage, max_steps):
    """Explore every interleaving of the scenarios and check the properties.

    Every violation is written as a trace file under --out (minimised unless
    --no-minimize) before it is reported; `zsmc replay PATH` reproduces it.
    Exit 0 only when every scenario was explored completely without violation;
    3 means a budget ran out first: incomplete, not verified.  Ctrl-C or
    SIGTERM stops within seconds and still reports (and writes) what was
    found, marked interrupted (exit 130 or 143, or 1 if a violation was found).
    """
    cc = _load("cli_check")
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
    # Without --cpus a scenario runs at each of its CPU counts (a two-CPU race
    # and its one-CPU counterpart).
    if (checkpoint or resume) and len(names) != 1:
        raise UsageError("--checkpoint and --resume need exactly one --scenario")
    only = None
    counts = {name: _cpu_counts(reg, name, cpus) for name in names}
    if (checkpoint or resume) and len(counts[names[0]]) > 1:
        # A checkpoint holds one search: the scenario at its first CPU count.
        first, rest = counts[names[0]][0], counts[names[0]][1:]
        only = (f"note: --checkpoint/--resume checked {names[0]} on {first} CPU(s) only; "
                f"also run --cpus {' and --cpus '.join(map(str, rest))} for the other count(s)")
        counts[names[0]] = [first]
    builds = [(name, *reg.make_build(cls, name, depth, c)) for name in names for c in counts[name]]
    if dask is not None:
        _check_dask_address(dask)
    cc.check_out_dir(out)
    if checkpoint:
        cc.check_file_target("--checkpoint", checkpoint)
    if resume and not os.path.isfile(resume):
        raise UsageError(f"--resume: no such checkpoint file: {resume}")
    header = {"variant": label, "mutation": mutation, "depth": depth, "scheduler": scheduler,
              "preemption_bound": preemption_bound, "seed": seed, "properties": props,
              "max_executions": max_executions, "time_limit": time_limit}
    return cc.run(cc.Check(
        reg=reg, cls=cls, label=label, builds=builds, header=header, scheduler=scheduler,
        preemption_bound=preemption_bound, props=props, max_executions=max_executions,
        time_limit=time_limit, seed=seed, output=output, out=out, no_minimize=no_minimize,
        executions=executions, pct_depth=pct_depth, jobs=jobs, dask=dask, checkpoint=checkpoint,
        resume=resume, cpus=cpus, depth=depth, max_steps=max_steps,
        show_coverage=show_coverage, note=only, quiet=quiet, all_steps=all_steps))


def _check_dask_address(address: str) -> None:
    """A Dask scheduler address is ``[tcp://]host:port`` (or ``inproc://``, ``tls://``, ``ucx://``)."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    host, colon, port = rest.rpartition(":")
    if scheme not in ("tcp", "tls", "inproc", "ucx", "ws", "wss") or (
            scheme != "inproc" and (not colon or not host or not port.isdigit() or not 0 < int(port) < 65536)):
        raise UsageError(f"--dask {address!r} is not a scheduler address (tcp://host:port)")


def _resolve_variant(reg, variant, mutation):
    """(label, class) for --variant/--mutation; UsageError names the bad value."""
    if mutation is None:
        spec = DEFAULT_VARIANT if variant is None else variant
        return spec, reg.load_variant(spec)
    m = reg.MUTATIONS.get(mutation)
    if m is None:
        raise UsageError(f"unknown mutation {mutation!r}; known mutations: {', '.join(sorted(reg.MUTATIONS))}")
    if not getattr(m, "expressible", True) or m.cls is None:
        raise UsageError(f"mutation {mutation!r} cannot be expressed in the model: {m.reason or 'no reason given'}")
    version = m.base if variant is None else variant
    if version not in reg.VERSIONS:
        raise UsageError(f"--mutation applies to a built-in version, not {version!r}; "
                         f"versions: {', '.join(sorted(reg.VERSIONS))}")
    return f"{version}+{mutation}", reg.variant_for(version, mutation)


def _cpu_counts(reg, name, cpus) -> list:
    """The CPU counts to check scenario ``name`` at: ``--cpus``, else the scenario's own."""
    counts = getattr(reg, "cpu_counts", None)
    if counts is not None:
        return counts(name, cpus)
    return [cpus] if cpus else [None]


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


# --------------------------------------------------------------------------- replay
_VARIANT_HELP = ("Run the trace on this variant (a trace's own variant file runs only when you "
                 "name it here, or with --trust-variant).")
_TRUST_HELP = ("Run the variant file the trace records (found at its recorded path or next to "
               "the trace), after checking its SHA-256 and its siblings'.")


@main.command(short_help="Reproduce a trace file (exit 1: it violates).")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--variant", metavar="NAME|FILE:CLASS", default=None, help=_VARIANT_HELP)
@click.option("--trust-variant", is_flag=True, help=_TRUST_HELP)
def replay(file, variant, trust_variant):
    """Re-execute a trace file's schedule; exit 1 if it violates, 0 if it passes."""
    tr = _load("checker.trace")
    trace, note = _load("cli_trust").trace_for_run(file, variant, trust_variant)
    outcome = tr.replay(trace)
    expect = trace.get("expect", "violation")
    if note:
        click.echo(note)
    click.echo(fmt.replay_text(file, expect, outcome))
    return EXIT_VIOLATION if outcome.violation is not None else EXIT_PASS


# --------------------------------------------------------------------------- minimize
@main.command(short_help="Minimise a trace file with z3.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False), default=None,
              help="Where to write the minimised trace (default: FILE with .min.json).")
@click.option("--time-limit", type=Seconds(), default=30.0, show_default=True,
              metavar="S", help="Seconds z3 may spend proving optimality.")
@click.option("--variant", metavar="NAME|FILE:CLASS", default=None, help=_VARIANT_HELP)
@click.option("--trust-variant", is_flag=True, help=_TRUST_HELP)
def minimize(file, out, time_limit, variant, trust_variant):
    """Minimise a trace: fewest preemptions, then context switches, then steps."""
    tr = _load("checker.trace")
    trace, note = _load("cli_trust").trace_for_run(file, variant, trust_variant)
    if note:
        click.echo(note)
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
