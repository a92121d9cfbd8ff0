"""One ``zsmc check`` from its plan to its exit code: explore, persist, report.

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

import contextlib
import importlib
import os
import shlex
import sys
import time

import click

from checker.budget import clear_interrupt, signal_of, sigterm_interrupts
from checker.errors import InternalError, UsageError, ZsmcError

from . import early
from . import format as fmt
from .strategies import STRATEGIES, Budget

PROGRAM_LOADER = "model.registry:build_from_params"
# Per trace written by ``check``: long enough for z3 to prove the small traces
# of the catalogue optimal, short enough that a check with a few violations
# still answers in seconds.  ``zsmc minimize`` takes its own --time-limit.
CHECK_MINIMIZE_TIME = 10.0


def run(plan, out=None) -> int:
    """Explore every build of ``plan`` (a :class:`cli.plan.CheckPlan`), write and print
    what was found (on ``out``, default stdout); the exit code."""
    return Session(plan, out).run()


class _ToStderr:
    """What ``sys.stdout`` is while model code may run: stderr, which the model cannot close.
    ``report``: the stream zsmc's report goes to."""

    def __init__(self, report):
        self.report = report

    def write(self, text):
        return sys.stderr.write(text)

    def writelines(self, lines):
        sys.stderr.writelines(lines)

    def flush(self):
        sys.stderr.flush()

    def close(self):        # a model closing "stdout" closes nothing of zsmc's
        pass

    @property
    def closed(self):
        return False

    def __getattr__(self, name):
        return getattr(sys.stderr, name)


def _model_code() -> set:
    """The code objects under which task code runs: a task's step and a program's build."""
    from checker.explore import _build
    from checker.world import World
    return {World._resume.__code__, _build.__code__}


@contextlib.contextmanager
def _refused_under_model(module, names, error):
    """While it is entered, ``module``'s functions ``names`` raise ``error(name)`` when
    called under the model's code (:func:`_model_code`), and work elsewhere."""
    model = _model_code()
    real = {name: getattr(module, name) for name in names if hasattr(module, name)}

    def guarded(name):
        def call(*args, **kwargs):
            if _under(model):
                raise error(name)
            return real[name](*args, **kwargs)
        return call

    for name in real:
        setattr(module, name, guarded(name))
    try:
        yield model
    finally:
        for name, fn in real.items():
            setattr(module, name, fn)


@contextlib.contextmanager
def model_cannot_exit():
    """While the check runs, ``os._exit`` raises :class:`OsExitCalled` (a SystemExit: a
    model calling it is a ModelError, exit 2) instead of ending the process with no
    verdict, an exit 0 read as a pass.  In forked workers it does so only under a
    task's step or a program's build (multiprocessing ends its workers with the real
    one)."""
    from checker.errors import OsExitCalled
    real, pid = os._exit, os.getpid()
    model = _model_code()

    def _exit(code):
        if os.getpid() == pid or _under(model):
            raise OsExitCalled(code)
        real(code)
    os._exit = _exit
    try:
        yield
    finally:
        os._exit = real


class ModelForked(RuntimeError):
    """What ``os.fork`` raises under a model's code while ``zsmc check`` runs (a
    ModelError naming the task, exit 2)."""


_FORK_GUARD = []        # the model's code objects while a check runs (model_cannot_fork)
_FORKED = []            # a fork under the model's code that os.fork's patch did not see


def _forked_child() -> None:
    # os.register_at_fork's child hook: a fork the patched os.fork did not see (posix.fork,
    # os.fork bound before the check) under a model's code ends the child at once, before
    # it runs the rest of the search and prints a second report; the parent says so.
    if _FORK_GUARD and _under(_FORK_GUARD[-1], depth=1):
        import posix
        posix._exit(70)


def _forked_parent() -> None:
    if _FORK_GUARD and _under(_FORK_GUARD[-1], depth=1):
        _FORKED.append(True)


def check_no_fork() -> None:
    """A ModelError if the model forked behind os.fork's back (a scenario's result is
    then reported by nobody: the check ends, exit 2)."""
    from checker.errors import ModelError
    if _FORKED:
        _FORKED.clear()
        raise ModelError("the model called fork() (posix.fork or a saved os.fork): a task's code "
                         "must not fork (the child would run the rest of the search)")


@contextlib.contextmanager
def model_cannot_fork():
    """While the check runs, ``os.fork``/``os.forkpty`` under a task's step or a program's
    build raise :class:`ModelForked` (a ModelError, exit 2).  A variant forking in a step
    had each child go on exploring and fork again: processes without end, several JSON
    documents on stdout, and the machine's memory.  The split search's own workers are
    forked elsewhere, and stay allowed."""
    from checker.worker_process import AFTER_JOB

    def forked(name):
        return ModelForked(f"os.{name}() called by the model: a task's code must not fork "
                           "(the child would run the rest of the search)")

    with _refused_under_model(os, ("fork", "forkpty"), forked) as model:
        if not _FORK_GUARD and not getattr(model_cannot_fork, "hooked", False):
            os.register_at_fork(after_in_child=_forked_child, after_in_parent=_forked_parent)
            model_cannot_fork.hooked = True
        _FORK_GUARD.append(model)
        AFTER_JOB.append(check_no_fork)     # a --jobs worker's model forking: the worker says so
        try:
            yield
        finally:
            AFTER_JOB.remove(check_no_fork)
            _FORK_GUARD.pop()


class ModelChangedInterpreter(RuntimeError):
    """What ``sys.setrecursionlimit`` and the like raise under a model's code while
    ``zsmc check`` runs (a ModelError naming the task, exit 2)."""


# The interpreter's settings zsmc's own code depends on, by their setters: a variant's
# sys.setrecursionlimit(60) in a step made a worker's next step a RecursionError, and
# the serial search went on with zsmc's stack cut short (model.variant_files refuses
# a change made at import).
INTERPRETER_SETTERS = ("setrecursionlimit", "set_int_max_str_digits", "setswitchinterval")


@contextlib.contextmanager
def model_keeps_interpreter():
    """While the check runs, the setters of INTERPRETER_SETTERS called under a task's
    step or a program's build raise :class:`ModelChangedInterpreter`; elsewhere (a
    library zsmc calls, such as Hypothesis) they work."""
    def changed(name):
        return ModelChangedInterpreter(f"sys.{name}() called by the model: a task's code must not "
                                       "change the interpreter zsmc runs in")

    with _refused_under_model(sys, INTERPRETER_SETTERS, changed):
        yield


def _under(codes, depth: int = 2) -> bool:
    """Whether one of the functions whose code objects are ``codes`` is on the stack."""
    f = sys._getframe(depth)
    while f is not None:
        if f.f_code in codes:
            return True
        f = f.f_back
    return False


@contextlib.contextmanager
def model_output_to_stderr():
    """While a variant file is imported and the search runs, what the model's code writes
    to stdout (a debugging print, ``sys.__stdout__``, ``os.write(1, ...)`` or a C library's
    printf) goes to stderr: stdout carries zsmc's report only (one JSON document with
    ``--format json``).  File descriptor 1 itself is stderr meanwhile (forked workers
    inherit it), and the report goes to a copy of the real one.  Yields the stream the
    report goes to."""
    real = sys.stdout
    report, fd, saved = real, None, None
    try:
        fd, err = real.fileno(), sys.stderr.fileno()
        real.flush()
        saved = os.dup(fd)
        os.dup2(err, fd)
    except (AttributeError, OSError, ValueError):
        # No descriptors (a test's captured streams), or stderr closed: sys.stdout only.
        if saved is not None:
            os.close(saved)
        fd = saved = None
    if saved is not None:
        # Line-buffered: a write that fails (a full disk, a closed pipe) fails inside the
        # check, where it is reported as the output's failure.
        report = open(saved, "w", buffering=1, encoding=real.encoding,  # noqa: SIM115  (closed below)
                      errors=real.errors, closefd=False)
    sys.stdout = _ToStderr(report)
    try:
        yield report
    finally:
        sys.stdout = real
        if saved is not None:
            with contextlib.suppress(OSError):
                real.flush()             # what the model left in sys.__stdout__: to stderr
            try:
                report.close()           # flushes; closed even if that fails (fd kept)
            finally:
                os.dup2(saved, fd)
                os.close(saved)


class Session:
    """What one check has found so far: the scenarios reported, in order, with their traces."""

    def __init__(self, plan, out=None):
        self.plan = plan
        self.out = out                     # where the report goes (None: sys.stdout)
        self.header = plan.header()
        self.text = plan.output == "text"
        self.runs = []                     # fmt.ScenarioRun, in report order
        self.params = {}                   # index in builds -> params of the program reported on
        self.reported = set()              # indices into plan.builds
        self.interrupted = None            # the signal that stopped the check
        self.stopped = False               # -x: a violation ended the check
        self.stop_note = None
        self.shallower = {}                # index in builds -> the depth its violation was found at
        self.budget = None
        self.held = None                   # an interrupt caught while a trace was minimised
        self.lockdep = None                # one lockdep graph per kernel, across the scenarios

    def run(self) -> int:
        try:
            return self._run()
        except ZsmcError as exc:
            # A model error in a step, a trace that cannot be replayed ...: with --format json
            # the document still comes, with the scenarios reported before it (cli.early).
            if not self.text and not early.WRITTEN[0]:
                code = getattr(exc, "exit_code", 4 if isinstance(exc, InternalError) else 2)
                early.WRITTEN[0] = True
                with contextlib.suppress(OSError, ValueError):
                    click.echo(fmt.check_json(self.header, self.runs, code, error=str(exc)), file=self.out)
            raise

    def _run(self) -> int:
        plan = self.plan
        if self.text and not plan.quiet:
            click.echo(fmt.check_header(self.header, [n for n in plan.scenario_names
                                                      if n not in plan.review]), file=self.out)
        self.budget = Budget.start(plan.time_limit, plan.max_executions, getattr(plan, "started", None))
        strategy = STRATEGIES[plan.search](plan)
        results = {}
        with sigterm_interrupts():
            try:
                if self._deepens(strategy):
                    self._first_bugs_first(strategy, results)
                remaining = [i for i in range(len(plan.builds)) if i not in self.reported]
                if strategy.pooled and remaining and not self.stopped:
                    got = self._pooled(strategy, [plan.builds[i] for i in remaining], remaining)
                    results.update({remaining[k]: r for k, r in got.items()})
                for index, build in enumerate(plan.builds):
                    if self.stopped:
                        break
                    if index in self.reported:
                        continue
                    if index not in results:
                        with self._progress(build.name) as progress:
                            results[index], self.params[index] = strategy.run(build, self.budget, progress)
                    self._report(index, results[index])
            except KeyboardInterrupt as exc:     # Ctrl-C or SIGTERM, inside a search or between two
                clear_interrupt()
                self.interrupted = signal_of(exc)
                partial = getattr(exc, "result", None)
                if not isinstance(partial, dict):
                    partial = {self._current(results): partial}
                results.update({k: v for k, v in partial.items() if v is not None})
                self._report_interrupted(results)
        return self._finish()

    def _deepens(self, strategy) -> bool:
        """Whether the check looks for its first bugs at smaller depths first: a depth
        over 1, scenario by scenario (not the pooled, checkpointed or Dask searches)."""
        p = self.plan
        return (p.depth > 1 and not (p.checkpoint or p.resume or p.dask)
                and p.search in ("split", "pooled", "exhaustive", "bounded", "auto-bound"))

    def _first_bugs_first(self, strategy, results: dict) -> None:
        """Every scenario at depth 1, then 2, ... below the check's: a violation found
        there is reported at once (it is an execution of the deeper check's scenario
        too, cut short) and its scenario is done; the others go on to the full depth.
        A bug depth 1 finds is reported in depth 1's time, whatever the depth asked."""
        p = self.plan
        for depth in range(1, p.depth):
            # A review scenario runs at depth 1 only: its full pass is this one.
            todo = [i for i in range(len(p.builds)) if i not in self.reported
                    and p.builds[i].params.get("depth", p.depth) > depth]
            if not todo or self.stopped:
                return
            shallow = [type(b)(b.name, *p.reg.make_build(p.cls, b.name, depth, b.params.get("cpus"),
                                                         **p.kw_of(b.params)))
                       for b in (p.builds[i] for i in todo)]
            if strategy.pooled:
                # As the full-depth pass runs: every scenario's subtrees on one pool.
                got = self._pooled(strategy, shallow, todo)
                found = {todo[k]: (r, shallow[k].params) for k, r in got.items()}
            else:
                found = {}
                for index, b in zip(todo, shallow):
                    if self.stopped:
                        break
                    try:
                        with self._progress(b.name) as progress:
                            found[index] = strategy.run(b, self.budget, progress)
                    except KeyboardInterrupt as exc:
                        partial = getattr(exc, "result", None)
                        if partial is not None and not isinstance(partial, dict):
                            exc.result = {index: partial}       # not the first index without one
                        raise
                    self._shallow_found(index, depth, *found[index], results)
                continue
            for index in todo:
                if index in found:
                    self._shallow_found(index, depth, *found[index], results)

    def _pooled(self, strategy, builds, indices) -> dict:
        """``run_all`` of ``builds`` (the check's ``indices``): an interrupt's partial
        results are handed on keyed by the check's indices."""
        try:
            with self._progress("all") as progress:
                return strategy.run_all(builds, self.budget, progress)
        except KeyboardInterrupt as exc:
            partial = getattr(exc, "result", None)
            if isinstance(partial, dict):
                exc.result = {indices[k]: r for k, r in partial.items() if k < len(indices)}
            raise

    def _shallow_found(self, index, depth, r, params, results) -> None:
        if r.violations and not self.stopped:
            results[index], self.params[index] = r, params
            self.shallower[index] = depth
            self._report(index, r)

    def _finish(self) -> int:
        plan = self.plan
        unrun = [] if self.interrupted or self.stopped else self._never_ran()
        code = fmt.exit_code(self.runs, self.interrupted, unrun)
        if self.text:
            if plan.show_coverage:
                click.echo(fmt.coverage_text(self.runs, self._kernel_functions()), file=self.out)
            click.echo(fmt.check_footer(self.runs, code), file=self.out)
            for line in fmt.never_ran_lines(unrun):
                click.echo(line, file=self.out)
            if plan.note:
                click.echo(plan.note, file=self.out)
            if self.stop_note:
                click.echo(self.stop_note, file=self.out)
        else:
            notes = [n for n in (plan.note, self.stop_note) if n]
            if notes:
                self.header["note"] = "\n".join(notes)
            early.WRITTEN[0] = True
            click.echo(fmt.check_json(self.header, self.runs, code, unrun), file=self.out)
        return code

    @contextlib.contextmanager
    def _progress(self, label: str):
        """The engine's ``on_progress`` for one search (None when stderr is not a terminal)."""
        progress = (fmt.JsonProgress(sys.stderr, label) if self.plan.output == "json"
                    else fmt.Progress.for_stderr(label))
        try:
            yield progress
        finally:
            if progress is not None:
                progress.done()

    def _kernel_functions(self) -> list:
        if not hasattr(self.plan.reg, "base_version"):
            return []
        return importlib.import_module("model.coverage").kernel_functions(self.plan.cls)

    def _never_ran(self) -> list:
        """``[(function, where it would run, lines)]`` for each function the variant
        changes that no explored execution ran (``lines`` None), and for each whose
        changed statements did not all run (``lines``: ``[(line, source)]``); exit 5
        when nothing else failed."""
        reg, cls = self.plan.reg, self.plan.cls
        base_of = getattr(reg, "base_version", None)
        if base_of is None:
            return []
        cov = importlib.import_module("model.coverage")
        total = {}
        for r in self.runs:
            for k, n in r.result.coverage.items():
                total[k] = total.get(k, 0) + n
        depth = self.plan.depth
        base = base_of(cls)
        # Where the base runs a function the patch changes; a helper the patch adds runs
        # nowhere in the base (the search spent its whole budget to say so), so where
        # the patch runs it.
        missing = [(fn, cov.where_it_runs(base if hasattr(base, fn) else cls, fn, depth, reg), None)
                   for fn in cov.never_ran(cls, base, total)]
        return missing + [(fn, cov.where_it_runs(cls, fn, depth, reg, [n for n, _ in lines]), lines)
                          for fn, lines in cov.lines_never_ran(cls, total)]

    def _current(self, results: dict) -> int:
        """The build being explored when an interrupt came (the first without a result)."""
        n = len(self.plan.builds)
        return next((i for i in range(n) if i not in results), n - 1)

    def _report(self, index: int, result) -> None:
        check_no_fork()
        plan = self.plan
        reporting_interrupted = self.interrupted is not None
        name, _, params = plan.builds[index]
        params = self.params.get(index, params)
        self.reported.add(index)
        run_ = fmt.ScenarioRun(name, params, result, shallower=self.shallower.get(index))
        if index not in self.shallower and isinstance(params, dict) and params.get("depth", plan.depth) < plan.depth:
            run_.shallower = params["depth"]        # a review scenario or the RT pass: depth 1 only
        if fmt.on_rt_pass(self.header, params):
            run_.kernel = "PREEMPT_RT"
        self._lockdep(index, name, params, result)
        # Persist before anything is said about a violation (style.md lesson 10).
        # Ctrl-C or SIGTERM while a trace is written or minimised (z3 may take
        # seconds) loses nothing: the trace is kept as found, the scenario is
        # reported, and only then does the interrupt stop the check.
        caught = None
        for v in result.violations:
            if v.no_trace:
                run_.traces.append(fmt.TraceRecord(v, None, note=f"no trace: {v.no_trace}"))
                continue
            while True:
                budget = (None if plan.no_minimize or self.interrupted or caught is not None
                          else _minimize_budget(self.budget.deadline))
                try:
                    rec = self._write_trace(v, params, name, budget)
                except KeyboardInterrupt as exc:     # while writing: write it again, unminimised
                    clear_interrupt()
                    caught = exc
                    continue
                if self.held is not None:            # while minimising: the trace as found is written
                    caught, self.held = self.held, None
                elif caught is not None and budget is None and not plan.no_minimize and rec.path and not rec.note:
                    rec.note = "not minimised: interrupted"
                break
            run_.traces.append(rec)
        if caught is not None and self.interrupted is None:
            self.interrupted = signal_of(caught)
        self.runs.append(run_)
        report = fmt.scenario_text(run_, quiet=plan.quiet, all_steps=plan.all_steps) if self.text else ""
        if report:
            click.echo(report, file=self.out)
        if plan.exitfirst and result.violations and not self.stopped:
            self.stopped = True
            left = [(f"{b.name} ({b.params.get('cpus')} CPU)" if isinstance(b.params, dict)
                     and b.params.get("cpus") else b.name)
                    + (" on PREEMPT_RT" if fmt.on_rt_pass(self.header, b.params) else "")
                    for i, b in enumerate(plan.builds) if i not in self.reported]
            if left:
                self.stop_note = f"note: stopped at the first violation (-x); not checked: {', '.join(left)}"
        if caught is not None and not reporting_interrupted:
            raise caught        # the check stops here; the scenarios left are reported interrupted

    def _lockdep(self, index, name, params, result) -> None:
        """Feed the scenario's lock dependencies to the check's lockdep graph (one per
        kernel: properties/lockdep_global.py); a cycle they close with another
        scenario's is a violation of this scenario, the one that closed it.  Not for
        the Hypothesis search, whose examples are programs of their own."""
        if self.plan.search == "hypothesis" or not result.states or not isinstance(params, dict):
            return
        from properties.lockdep_global import CheckLockdep
        if self.lockdep is None:
            self.lockdep = CheckLockdep()
        b = self.plan.builds[index]
        kernel = params.get("config", self.plan.config)
        found = self.lockdep.feed(kernel, name, params.get("cpus"),
                                  {"loader": PROGRAM_LOADER, "params": params},
                                  b.build if params == b.params else None, result.states)
        result.violations.extend(found)
        result.violation_count += len(found)

    def _report_interrupted(self, results: dict) -> None:
        """After Ctrl-C or SIGTERM: the scenarios not reported yet, then those never started."""
        from checker.result import Result
        for index in range(len(self.plan.builds)):
            if index in self.reported:
                continue
            r = results.get(index)
            if r is None:
                r = Result(scheduler=self.plan.scheduler,
                           reason="not explored: interrupted before it started")
            elif not r.complete and "interrupted" not in r.reason:
                r.reason = "interrupted" + (f" ({r.reason})" if r.reason else "")
            self._report(index, r)

    def _write_trace(self, violation, params, scenario, minimize_time) -> fmt.TraceRecord:
        """Save the violation's trace, then replace it by its minimisation if that works.

        ``minimize_time`` None: keep the trace as found.  A trace that cannot be
        written is reported in the record (``path`` None), never lost silently:
        the violation is still printed.
        """
        from checker import trace as tr
        meta = fmt.check_command(self.header, scenario, params)
        trace = tr.make_trace(violation, {"loader": PROGRAM_LOADER, "params": params},
                              expect="violation", meta=meta)
        try:
            path = tr.save_trace(trace, self.plan.out)
        except UsageError as exc:
            click.echo(f"zsmc: error: {exc}; the violation is printed below", err=True)
            return fmt.TraceRecord(violation, None, note=f"trace NOT written: {exc}")
        rec = fmt.TraceRecord(violation, str(path), trace=trace)
        if isinstance(params, dict) and params.get("variant_file"):
            rec.args = f" --variant {shlex.quote(self.plan.label)}"
        if minimize_time is not None:
            from checker.minimize import minimize_trace
            try:
                small, report = minimize_trace(trace, time_limit=minimize_time)
                tr.save_trace(small, os.path.dirname(path) or ".", name=os.path.basename(path))
                rec.minimized, rec.trace = report, small
            except ZsmcError as exc:  # keep the trace as found; say why it was not minimised
                rec.note = f"not minimised: {exc}"
            except KeyboardInterrupt as exc:
                # The trace as found is on disk (an atomic rename: the minimised one
                # replaces it whole or not at all); the caller reports, then stops.
                clear_interrupt()
                self.held, rec.minimized, rec.trace = exc, None, trace
                rec.note = "not minimised: interrupted"
        return rec


def _minimize_budget(deadline) -> float:
    """Seconds for one minimisation: CHECK_MINIMIZE_TIME, cut to what --time-limit leaves (>= 1 s)."""
    if deadline is None:
        return CHECK_MINIMIZE_TIME
    return max(1.0, min(CHECK_MINIMIZE_TIME, deadline - time.monotonic()))
