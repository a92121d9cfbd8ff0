"""pytest plugin for zsmc: model checking from ordinary tests, and counterexamples as tests.

Registered through the ``pytest11`` entry point ``zsmc`` (pyproject.toml), the
one route.  The module imports only pytest and the standard library at load
time; the engine, and the zsmalloc model it checks variants of and replays
the traces of, are imported when a check or a replay runs.  It is a face of
the tool beside ``cli/``, not part of ``checker``: the engine knows no model.

* Options ``--zsmc-depth``, ``--zsmc-scheduler``, ``--zsmc-seed`` and
  ``--zsmc-time-limit`` set the defaults of every check; ``--zsmc-trace-dir``
  (or the ini option ``zsmc_trace_dir``, default ``zsmc-traces`` under the
  rootdir) is where failing checks write their traces.
* ``@pytest.mark.zsmc(**options)`` overrides them for one test (any of
  ``depth, scheduler, seed, time_limit, properties, preemption_bound,
  max_executions, expect, program, allow_incomplete``).
* The fixture ``zsmc_check(build, **options)`` runs :func:`checker.explore`
  on ``build`` and fails the test with the rendered trace on a violation
  (``expect="pass"``, the default) or when none is found
  (``expect="violation"``).  A pass must be a complete search: an
  exhaustive check (``dpor``, ``dfs``) that a budget stopped, or that
  met a data race while ``properties=`` left that property out, fails as
  "incomplete, not verified", as ``zsmc check`` exits 3, unless the test
  says ``allow_incomplete=True``; a sampled one (``random``, ``pct``) is
  never complete and is not held to it.  It returns the :class:`checker.Result`.
  ``zsmc_check(variant="patch.py:Class", scenario="read-compact")`` (or
  ``mutation=``, ``cpus=``, ``config="rt"``; no scenario: each default
  scenario) checks a variant of the zsmalloc model.  The depth applies to every model build
  (a build carrying ``loader`` and ``params``, as ``model.registry.make_build``
  returns it, is rebuilt with it; one whose program has no depth refuses
  it) and to a build function taking ``depth=``.  A violation's trace is
  saved when the program can be loaded again (a model build, or
  ``program={"loader": ..., "params": ...}``), and the failure report
  prints it, its path and how to replay it.
* Every ``*.json`` file matching the ini option ``zsmc_traces`` (globs from
  the rootdir, default ``tests/counterexamples/*.json``) whose ``format`` is
  ``"zsmc-trace"`` becomes an item that replays it: ``expect: "violation"``
  must reproduce, ``expect: "pass"`` must not violate.  Other JSON files are
  never claimed.  A failing item prints the trace and ``zsmc replay PATH``.
"""

from __future__ import annotations

import glob
import importlib
import inspect
import json
import os

import pytest

_DEFAULT_TRACES = ["tests/counterexamples/*.json"]
_DEFAULT_TRACE_DIR = "zsmc-traces"
_OPTIONS = ("depth", "scheduler", "seed", "time_limit", "properties", "preemption_bound",
            "max_executions", "expect", "program", "allow_incomplete")
_SAMPLED = ("random", "pct", "hypothesis")
_PATHS = pytest.StashKey[frozenset]()


def pytest_addoption(parser):
    group = parser.getgroup("zsmc", "zsmc model checking")
    group.addoption("--zsmc-depth", type=int, default=None, metavar="N",
                    help="operations per client task of zsmc checks (model builds, and builds taking depth=)")
    group.addoption("--zsmc-scheduler", default="dpor", metavar="NAME",
                    help="scheduler of zsmc checks (default: dpor)")
    group.addoption("--zsmc-seed", type=int, default=0, metavar="N", help="seed of zsmc checks (default: 0)")
    group.addoption("--zsmc-time-limit", type=float, default=None, metavar="SECONDS",
                    help="time budget of each zsmc check (default: none)")
    group.addoption("--zsmc-trace-dir", default=None, metavar="DIR",
                    help=f"where failing zsmc checks write their traces (default: the ini option "
                         f"zsmc_trace_dir, else {_DEFAULT_TRACE_DIR}/ under the rootdir)")
    parser.addini("zsmc_traces", "globs (from the rootdir) of zsmc counterexample traces to replay",
                  type="args", default=list(_DEFAULT_TRACES))
    parser.addini("zsmc_trace_dir", "directory (from the rootdir) where failing zsmc checks write traces",
                  default=_DEFAULT_TRACE_DIR)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "zsmc(**options): options of the zsmc_check fixture for this test "
                   f"({', '.join(_OPTIONS)})")
    depth = config.getoption("zsmc_depth")
    if depth is not None and depth < 1:
        raise pytest.UsageError(f"--zsmc-depth must be a positive integer (operations per task), got {depth}")
    limit = config.getoption("zsmc_time_limit")
    if limit is not None and not 0 < limit < float("inf"):
        raise pytest.UsageError(f"--zsmc-time-limit must be a positive number of seconds (finite), "
                                f"got {limit}")
    from checker.schedulers import SCHEDULERS
    name = config.getoption("zsmc_scheduler")
    if name not in SCHEDULERS:
        raise pytest.UsageError(f"--zsmc-scheduler: unknown scheduler {name!r}; "
                                f"known: {', '.join(sorted(SCHEDULERS))}")
    # The state machine (model.stateful) writes its failures there too.
    _ACTIVE_TRACE_DIRS.append(str(trace_dir(config)))


def pytest_unconfigure(config):
    if _ACTIVE_TRACE_DIRS:
        _ACTIVE_TRACE_DIRS.pop()


_ACTIVE_TRACE_DIRS = []     # one per running pytest session (pytester nests them)


def active_trace_dir():
    """The trace directory of the running pytest session, if any (for the state machine)."""
    return _ACTIVE_TRACE_DIRS[-1] if _ACTIVE_TRACE_DIRS else None


def trace_dir(config):
    """Where failing checks write traces: --zsmc-trace-dir (from the invocation directory),
    else the ini option zsmc_trace_dir (from the rootdir)."""
    opt = config.getoption("zsmc_trace_dir")
    if opt:
        return config.invocation_params.dir / opt
    return config.rootpath / config.getini("zsmc_trace_dir")


# -- the fixture --------------------------------------------------------------------------

class ZsmcCheck:
    """The ``zsmc_check`` fixture: call it with a build function; read its options as attributes."""

    def __init__(self, options: dict, out_dir):
        self.options = options
        self._out_dir = out_dir

    def __getattr__(self, name):
        try:
            return self.options[name]
        except KeyError:
            raise AttributeError(name) from None

    def __call__(self, build=None, *, variant=None, mutation=None, scenario=None, cpus=None, config=None,
                 **overrides):
        import checker

        unknown = set(overrides) - set(_OPTIONS)
        if unknown:
            pytest.fail(f"zsmc_check: unknown option(s) {sorted(unknown)}; known: {', '.join(_OPTIONS)}",
                        pytrace=False)
        o = {**self.options, **overrides}
        if o["expect"] not in ("pass", "violation"):
            pytest.fail(f"zsmc_check: expect must be 'pass' or 'violation', got {o['expect']!r}", pytrace=False)
        if o["depth"] is not None and (not isinstance(o["depth"], int) or o["depth"] < 1):
            pytest.fail(f"zsmc_check: depth must be a positive integer, got {o['depth']!r}", pytrace=False)
        try:
            if variant is not None or mutation is not None or scenario is not None:
                if build is not None:
                    raise checker.UsageError("zsmc_check takes a build or variant=/mutation=/scenario=, not both")
                builds = _model_builds(variant, mutation, scenario, cpus, o["depth"], config)
            elif config is not None:
                raise checker.UsageError("zsmc_check: config= applies to the model (variant=, mutation=, "
                                         "scenario=); a build function sets its program's config itself")
            elif build is None:
                raise checker.UsageError("zsmc_check needs a build function, or variant= (and scenario=)")
            else:
                builds = [_with_depth(build, o["depth"])]
        except checker.ZsmcError as exc:
            pytest.fail(f"zsmc: {exc}", pytrace=False)
        total = None
        for name, b, program in builds:
            result = self._check(b, program or o["program"], o, name)
            if total is None:
                total = result
            else:
                total.absorb(result)
                total.complete = total.complete and result.complete
        return total

    def _check(self, build, program, o, name):
        import checker
        from checker.render import render_text
        from checker.trace import make_trace, save_trace
        try:
            result = checker.explore(build, scheduler=o["scheduler"], properties=o["properties"],
                                     preemption_bound=o["preemption_bound"],
                                     max_executions=o["max_executions"], time_limit=o["time_limit"],
                                     seed=o["seed"])
        except checker.ZsmcError as exc:
            pytest.fail(f"zsmc: {exc}", pytrace=False)
        where = f" in scenario {name}" if name else ""
        if o["expect"] == "violation":
            if not result.violations:
                pytest.fail(f"zsmc: expected a violation{where}, found none ({result.summary()})",
                            pytrace=False)
            return result
        if result.violations:
            v = result.violations[0]
            trace = make_trace(v, program or {"loader": "", "params": {}}, build=build)
            lines = [f"zsmc: {v}{where}  [{result.summary()}]", "", render_text(trace, all_steps=False)]
            if program:
                path = save_trace(trace, str(self._out_dir))
                lines += ["", f"trace saved: {path}", f"replay: zsmc replay {path}",
                          f"show:   zsmc show {path}"]
            pytest.fail("\n".join(lines), pytrace=False)
        if not result.complete and not o["allow_incomplete"] and not _sampled(o["scheduler"]):
            pytest.fail(f"zsmc: incomplete, not verified{where}: {result.reason or 'no reason given'}; "
                        f"no violation in what was explored [{result.summary()}]. Raise the budget "
                        f"(time_limit, max_executions), lower the depth, or say allow_incomplete=True",
                        pytrace=False)
        return result


def _sampled(scheduler) -> bool:
    """Whether ``scheduler`` (a name or an instance) samples: never complete, by design."""
    name = scheduler if isinstance(scheduler, str) else getattr(scheduler, "name", "")
    return str(name).split(" ")[0] in _SAMPLED


def _with_depth(build, depth):
    """``(None, build, program)``: the depth applied to ``build`` (see the module docstring)."""
    loader, params = getattr(build, "loader", None), getattr(build, "params", None)
    if isinstance(loader, str) and isinstance(params, dict):
        if depth is not None and params.get("depth") != depth:
            if "depth" not in params:
                raise _usage(f"this program ({params.get('program') or loader}) has no depth: "
                             "drop --zsmc-depth / depth= for this test")
            params = {**params, "depth": depth}
            from checker.trace import resolve_build
            build = resolve_build({"loader": loader, "params": params})
        return None, build, {"loader": loader, "params": params}
    if depth is not None and _takes_depth(build):
        inner = build

        def build():
            return inner(depth=depth)
    return None, build, None


def _model_builds(variant, mutation, scenario, cpus, depth, config=None) -> list:
    """``[(scenario, build, program)]`` of the zsmalloc model for the variant and scenarios,
    on kernel configuration ``config`` (None: !PREEMPT_RT; ``"rt"``)."""
    reg = importlib.import_module("model.registry")
    if mutation is not None:
        m = reg.MUTATIONS.get(mutation)
        cls = reg.variant_for(variant or (m.base if m else "upstream"), mutation)
    else:
        cls = reg.load_variant(variant or "upstream")
    names = [scenario] if isinstance(scenario, str) else list(scenario or [
        n for n, s in reg.SCENARIOS.items() if getattr(s, "default", True)])
    out = []
    for name in names:
        # Without cpus=, each CPU count the scenario runs at, as ``zsmc check`` does.
        counts = reg.cpu_counts(name, cpus)
        for c in counts:
            build, params = reg.make_build(cls, name, depth or 1, c, config=config)
            label = name if len(counts) == 1 else f"{name} on {params['cpus']} CPU(s)"
            if params.get("config") == "rt":
                label += " on PREEMPT_RT"
            out.append((label, build, {"loader": build.loader, "params": params}))
    return out


def _usage(message):
    from checker.errors import UsageError
    return UsageError(message)


def _takes_depth(build) -> bool:
    try:
        return "depth" in inspect.signature(build).parameters
    except (TypeError, ValueError):
        return False


@pytest.fixture
def zsmc_check(request):
    """Run a zsmc check on a build function with the command-line options and the ``zsmc`` marker."""
    cfg = request.config
    options = {"depth": cfg.getoption("zsmc_depth"), "scheduler": cfg.getoption("zsmc_scheduler"),
               "seed": cfg.getoption("zsmc_seed"), "time_limit": cfg.getoption("zsmc_time_limit"),
               "properties": None, "preemption_bound": None, "max_executions": None,
               "expect": "pass", "program": None, "allow_incomplete": False}
    marker = request.node.get_closest_marker("zsmc")
    if marker is not None:
        unknown = set(marker.kwargs) - set(_OPTIONS)
        if marker.args or unknown:
            got = f"unknown option(s) {sorted(unknown)}" if unknown else f"positional {list(marker.args)}"
            pytest.fail(f"@pytest.mark.zsmc: {got}; it takes keyword options: {', '.join(_OPTIONS)}",
                        pytrace=False)
        options.update(marker.kwargs)
    return ZsmcCheck(options, trace_dir(cfg))


# -- counterexample files as test items -----------------------------------------------------

def pytest_collect_file(file_path, parent):
    if file_path.suffix != ".json":
        return None
    config = parent.config
    paths = config.stash.get(_PATHS, None)
    if paths is None:
        root = str(config.rootpath)
        paths = frozenset(os.path.realpath(p) for pattern in config.getini("zsmc_traces")
                          for p in glob.glob(os.path.join(root, pattern), recursive=True))
        config.stash[_PATHS] = paths
    if os.path.realpath(file_path) not in paths or not _is_trace(file_path):
        return None
    return TraceFile.from_parent(parent, path=file_path)


def _is_trace(path) -> bool:
    """A file this plugin claims: JSON whose ``format`` is ``zsmc-trace`` (any version),
    or a counterexample damaged so that it is no JSON file at all: one that says
    ``"zsmc-trace"`` but is not JSON any more (by hand or by a merge), an empty one (a
    crash while it was copied), one that is not UTF-8 text (bytes, a wrong encoding) or a
    Git LFS pointer left in its place.  Each was skipped without a word, a regression
    test lost; now its item fails with the reason.  JSON of another format is never
    claimed.  A byte-order mark is read as :func:`checker.trace.load_trace` reads it."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        return False
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return True
    except (ValueError, RecursionError):
        return b'"zsmc-trace"' in raw or not raw.strip() or raw.startswith(_LFS_POINTER)
    return isinstance(data, dict) and data.get("format") == "zsmc-trace"


_LFS_POINTER = b"version https://git-lfs.github.com/spec/"


class TraceFailure(Exception):
    """A counterexample item failed: a one-line reason and the trace to show (or None)."""

    def __init__(self, message: str, trace=None):
        super().__init__(message)
        self.trace = trace


def _name_project_variant(trace: dict, trace_path: str, root: str) -> None:
    """A trace of the project's own variant file replays on that file as it is now
    (a regression trace outlives edits of the patch), found at its recorded path or
    next to the trace, and only inside the project: pytest already runs the
    project's code, and nothing else is run (docs/cli.md, "Trust")."""
    program = trace.get("program") or {}
    params = program.get("params") if isinstance(program, dict) else None
    rec = params.get("variant_file") if isinstance(params, dict) else None
    if not isinstance(rec, dict) or not isinstance(rec.get("class"), str):
        return
    from checker.errors import UsageError
    from model.registry import describe_variant, known_variant, load_variant
    if known_variant(params.get("variant")):
        return
    root = os.path.realpath(root)
    if rec.get("module"):
        spec = f"{rec['module']}:{rec['class']}"
    else:
        path = rec.get("path")
        if not isinstance(path, str):
            return
        near = os.path.join(os.path.dirname(os.path.abspath(trace_path)), os.path.basename(path))
        found = next((p for p in (path, near) if os.path.isfile(p)
                      and os.path.realpath(p).startswith(root + os.sep)), None)
        if found is None:
            raise UsageError(f"the trace's variant file {path} is not in this project (rootdir {root}) "
                             f"nor next to the trace; put it there or replay with zsmc replay --variant")
        spec = f"{found}:{rec['class']}"
    cls = load_variant(spec)
    trace["program"] = dict(program, params=dict(params, variant=describe_variant(cls)[0]))


class TraceFile(pytest.File):
    def collect(self):
        yield TraceItem.from_parent(self, name="replay")


class TraceItem(pytest.Item):
    """Replays one trace file and checks its expectation."""

    def runtest(self):
        from checker.errors import UsageError
        from checker.trace import load_trace, replay

        importlib.import_module("model.registry")       # registers the model's trace loader
        shown = self._shown_path()
        try:
            # The collected file itself, whatever the working directory is now (a test
            # before this one may have changed it): its path relative to where pytest was
            # invoked named another file, or none, from elsewhere.  Messages show it short.
            trace = load_trace(str(self.path))
            _name_project_variant(trace, str(self.path), str(self.config.rootpath))
            out = replay(trace)
        except UsageError as exc:
            raise TraceFailure(str(exc).replace(str(self.path), shown)) from None
        viol = trace["violation"]
        if trace["expect"] == "violation" and not out.reproduced:
            raise TraceFailure(
                f"expected [{viol['property']}] at step {viol['step']} (a seeded bug that must stay "
                f"found), {out.message}", trace)
        if trace["expect"] == "pass" and out.violation is not None:
            raise TraceFailure(
                f"expected no violation (a fixed bug kept as a regression), found "
                f"[{out.violation.property}] at step {out.violation.step}: {out.violation.message}",
                out.trace)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, TraceFailure):
            lines = [f"zsmc trace {self.path.name}: {excinfo.value}"]
            if excinfo.value.trace is not None:
                from checker.render import render_text
                lines += ["", render_text(excinfo.value.trace)]
            lines += ["", f"replay: zsmc replay {self._shown_path()}"]
            return "\n".join(lines)
        return super().repr_failure(excinfo, style=style)

    def _shown_path(self) -> str:
        try:
            return os.path.relpath(self.path, self.config.invocation_params.dir)
        except ValueError:
            return str(self.path)

    def reportinfo(self):
        return self.path, None, f"zsmc trace {self.path.name}"
