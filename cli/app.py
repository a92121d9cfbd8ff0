"""The ``zsmc`` group and its small commands: ``replay``, ``minimize``, ``show``, ``list``.

Every :class:`checker.errors.ZsmcError` and every click usage error ends the
command through :meth:`Zsmc.main`, which prints ``zsmc: error: ...`` on one
line and returns the exit code (the table is :mod:`cli`'s).  ``check`` is
:mod:`cli.check`, ``variant`` :mod:`cli.variant`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shlex
import sys

import click

from checker import __version__
from checker.budget import code_location, signal_of, stop_signals_interrupt
from checker.errors import InternalError, OsExitCalled, UsageError, ZsmcError

from . import early
from . import format as fmt
from .check import check
from .params import Seconds
from .plan import load as _load
from .variant import variant

EXIT_PASS, EXIT_VIOLATION, EXIT_USAGE, EXIT_INCOMPLETE, EXIT_INTERNAL = 0, 1, 2, 3, 4
EXIT_VACUOUS = fmt.EXIT_VACUOUS
EXIT_INTERRUPTED = 130  # Ctrl-C, the shell's convention


class Zsmc(click.Group):
    """The ``zsmc`` group: turns every error into one line and an exit code."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if os.environ.get(complete_var or "_ZSMC_COMPLETE"):
            # Shell completion: click prints the script or the words and exits itself.
            return super().main(args, prog_name or "zsmc", complete_var, standalone_mode, **extra)
        _tolerant_std_streams()
        early.WRITTEN[0] = False
        # `check --format json` ending early still prints one document (cli.early).
        document = early.wants_json(sys.argv[1:] if args is None else args, _CHECK_TAKES_VALUE)
        if not _hold_closed_std_fds():
            _error("cannot write the output: stdout is closed")
            if standalone_mode:
                sys.exit(EXIT_USAGE)
            return EXIT_USAGE

        def fail(message, code):
            _error(message)
            if document and not early.WRITTEN[0]:
                early.WRITTEN[0] = True
                with contextlib.suppress(OSError, ValueError):
                    click.echo(early.document(code, message))
            return code

        try:
            with stop_signals_interrupt(), _abandoned_generators_noted():
                rv = super().main(args, prog_name or "zsmc", complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else EXIT_PASS
        except (click.exceptions.Abort, KeyboardInterrupt) as exc:
            # 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP
            code = fail("interrupted: nothing verified", 128 + int(signal_of(exc.__cause__ or exc)))
        except click.ClickException as exc:
            code = fail(exc.format_message(), EXIT_USAGE)
        except InternalError as exc:
            code = fail(*_internal(exc))
        except ZsmcError as exc:
            code = fail(str(exc), getattr(exc, "exit_code", EXIT_USAGE))
        except _OutputFailed as exc:
            code = _output_failed(exc.args[0])
        except SystemExit as exc:
            # click exits through its own exceptions here (standalone_mode=False):
            # a SystemExit comes from a model's code, and is never a pass.
            how = "os._exit" if isinstance(exc, OsExitCalled) else "sys.exit"
            code = fail(f"the model called {how}({exc.code!r}); a model must not exit (a kernel BUG is "
                        "a checker.Bug or an assert)", EXIT_USAGE)
        except GeneratorExit:
            # Not one zsmc raises: from a model's code (the engine makes a task's a ModelError).
            code = fail("the model raised GeneratorExit; a model must not raise BaseException (a kernel "
                        "BUG is a checker.Bug or an assert)", EXIT_USAGE)
        except Exception as exc:  # noqa: BLE001  (a bug in zsmc: say so on one line)
            code = fail(*_internal(exc))
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

    def make_context(self, info_name, args, parent=None, **extra):
        # --help and --version print while the arguments are parsed, before invoke().
        try:
            return super().make_context(info_name, args, parent, **extra)
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


def _hold_closed_std_fds() -> bool:
    """Open /dev/null on each of file descriptors 0-2 that was closed when zsmc started:
    else the first file zsmc opens would take its number, and a trace file would receive
    what is printed (or what a variant writes to fd 1).  False if stdout was closed (the
    report has nowhere to go)."""
    closed = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed.append(fd)
    for fd in closed:
        null = os.open(os.devnull, os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
    if 2 in closed and sys.stderr is None:
        sys.stderr = open(2, "w", closefd=False)        # noqa: SIM115  (lives as long as zsmc)
    return 1 not in closed


def _tolerant_std_streams() -> None:
    """A character stdout or stderr cannot encode (a path or a variant's label in CJK on
    an ISO-8859-1 locale, ``PYTHONIOENCODING=ascii``) is printed escaped, ``\\u4e2d``:
    it made the report fail after the whole search, as a zsmc bug (exit 4)."""
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (OSError, ValueError):       # closed, or not a reconfigurable stream
                pass


def _error(message: str) -> None:
    # One line whatever the message: a multi-line model error is folded.
    click.echo(f"zsmc: error: {early.one_line(message)}", err=True)


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


_ENGINE = os.path.dirname(os.path.abspath(code_location.__code__.co_filename)) + os.sep


@contextlib.contextmanager
def _abandoned_generators_noted():
    """A task's code that yields while being closed (a ``yield`` in ``except
    GeneratorExit`` or ``finally``) is noted once per place, in one line, instead of
    Python's "Exception ignored ... generator ignored GeneratorExit" and a traceback
    each time an abandoned execution's tasks are collected.  Nothing is lost: the
    execution was already abandoned (a violation, a cut, a merged state), and what its
    tasks do then is not part of any execution explored.  Forked workers inherit it."""
    previous = sys.unraisablehook
    noted = set()

    from checker.world import AbandonedYield

    def hook(unraisable):
        exc, gen = unraisable.exc_value, unraisable.object
        if isinstance(exc, AbandonedYield):
            # Closed by the execution's World: the yield itself is known (the variant's line).
            where, at = exc.where, "at"
        elif (type(exc) is RuntimeError and str(exc) == "generator ignored GeneratorExit"
                and hasattr(gen, "gi_frame")):
            # Closed by Python's collector: the generator that yielded is gone with its frame;
            # the traceback holds the calls down to it: the innermost outside zsmc's engine
            # (its coverage wrapper) says where.
            where, at = code_location(gen.gi_code, gen.gi_code.co_firstlineno), "under"
            tb = unraisable.exc_traceback
            while tb is not None:
                if not tb.tb_frame.f_code.co_filename.startswith(_ENGINE):
                    where = code_location(tb.tb_frame.f_code, tb.tb_lineno)
                tb = tb.tb_next
        else:
            previous(unraisable)
            return
        if where not in noted:
            noted.add(where)
            with contextlib.suppress(Exception):
                click.echo(f"zsmc: note: a task's code {at} {where} yields while zsmc closes an execution it abandoned "
                           "(a yield in `except GeneratorExit` or `finally`); what it does then is "
                           "ignored, as it is part of no execution", err=True)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


def _internal(exc: Exception) -> tuple:
    """``(message, exit code)`` of a bug in zsmc."""
    if os.environ.get("ZSMC_DEBUG"):
        raise exc
    text = str(exc) if isinstance(exc, InternalError) else f"[zsmc internal bug] {type(exc).__name__}: {exc}"
    return f"{text} (rerun with ZSMC_DEBUG=1 for the traceback, and please report it)", EXIT_INTERNAL


@click.group(cls=Zsmc, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="zsmc")
def main():
    """zsmc: a model checker for the locking protocol of Linux zsmalloc.

    Exit codes: 0 pass, 1 violation, 2 bad usage or input, 3 incomplete (a
    budget ran out: not verified), 4 internal error, 5 not a pass (the code a
    variant changes never ran), 130/143/129 interrupted (Ctrl-C, SIGTERM, SIGHUP).
    """


main.add_command(check)
# The options of `check` that take a value (cli.early.wants_json reads past them).
_CHECK_TAKES_VALUE = frozenset(o for p in check.params if isinstance(p, click.Option) and not p.is_flag
                               and not p.count for o in (*p.opts, *p.secondary_opts))


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
    trace, note = _load("cli.trust").trace_for_run(file, variant, trust_variant)
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
    out = _output_file(out, "-o/--output")
    tr = _load("checker.trace")
    trace, note = _load("cli.trust").trace_for_run(file, variant, trust_variant)
    if note:
        click.echo(note)
    small, report = _load("checker.minimize").minimize_trace(trace, time_limit=time_limit)
    if out is None:
        out = file.removesuffix(".json") + ".min.json"
    path = tr.write_trace_file(small, out)      # exactly the path given: no suffix added
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
    html_out = _output_file(html_out, "--html")
    tr = _load("checker.trace")
    trace = tr.load_trace(file)
    render = _load("checker.render")
    if html_out is None:
        click.echo(render.render_text(trace, all_steps=all_steps))
        return EXIT_PASS
    page = render.render_html(trace)
    try:   # through a temporary file and a rename: never a half-written page
        tr.write_atomic(html_out, page, mode=tr.public_mode(html_out))
    except OSError as exc:
        raise UsageError(f"cannot write {html_out}: {exc.strerror or exc}") from exc
    click.echo(f"wrote {html_out}")
    return EXIT_PASS


def _output_file(path, option):
    """A file an option names to be written (None: not given), refused before any work
    when it cannot name a file: empty, or a directory."""
    if path is None:
        return None
    if not path.strip():
        raise UsageError(f"{option} is empty: name the file to write")
    if path.endswith(("/", os.sep)) or os.path.isdir(path):
        raise UsageError(f"{option} {path} is a directory: name the file to write")
    return path


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


main.add_command(variant)
