"""pytest plugin for zsmc: model checking from ordinary tests, and counterexamples as tests.

Registered through the ``pytest11`` entry point ``zsmc`` (pyproject.toml), the
one route.  The module imports only pytest and the standard library at load
time; the engine is imported when a check or a replay runs.

* Options ``--zsmc-depth``, ``--zsmc-scheduler``, ``--zsmc-seed`` and
  ``--zsmc-time-limit`` set the defaults of every check.
* ``@pytest.mark.zsmc(**options)`` overrides them for one test (any of
  ``depth, scheduler, seed, time_limit, properties, preemption_bound,
  max_executions, expect, program``).
* The fixture ``zsmc_check(build, **options)`` runs :func:`checker.explore`
  on ``build`` (called with ``depth=`` when it takes that parameter) and
  fails the test with the rendered trace on a violation (``expect="pass"``,
  the default) or when none is found (``expect="violation"``).  With
  ``program={"loader": ..., "params": ...}`` the trace is also saved and the
  failure says how to replay it.  It returns the :class:`checker.Result`.
* Every ``*.json`` file matching the ini option ``zsmc_traces`` (globs from
  the rootdir, default ``tests/counterexamples/*.json``) whose ``format`` is
  ``"zsmc-trace"`` becomes an item that replays it: ``expect: "violation"``
  must reproduce, ``expect: "pass"`` must not violate.  Other JSON files are
  never claimed.  A failing item prints the trace and ``zsmc replay PATH``.
"""

from __future__ import annotations

import glob
import inspect
import json
import os

import pytest

_DEFAULT_TRACES = ["tests/counterexamples/*.json"]
_OPTIONS = ("depth", "scheduler", "seed", "time_limit", "properties", "preemption_bound",
            "max_executions", "expect", "program")
_PATHS = pytest.StashKey[frozenset]()


def pytest_addoption(parser):
    group = parser.getgroup("zsmc", "zsmc model checking")
    group.addoption("--zsmc-depth", type=int, default=None, metavar="N",
                    help="operations per client task for zsmc checks (passed as depth= to builds that take it)")
    group.addoption("--zsmc-scheduler", default="dpor", metavar="NAME",
                    help="scheduler of zsmc checks (default: dpor)")
    group.addoption("--zsmc-seed", type=int, default=0, metavar="N", help="seed of zsmc checks (default: 0)")
    group.addoption("--zsmc-time-limit", type=float, default=None, metavar="SECONDS",
                    help="time budget of each zsmc check (default: none)")
    parser.addini("zsmc_traces", "globs (from the rootdir) of zsmc counterexample traces to replay",
                  type="args", default=list(_DEFAULT_TRACES))


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "zsmc(**options): options of the zsmc_check fixture for this test "
                   f"({', '.join(_OPTIONS)})")
    depth = config.getoption("zsmc_depth")
    if depth is not None and depth < 0:
        raise pytest.UsageError(f"--zsmc-depth must be a non-negative integer, got {depth}")
    limit = config.getoption("zsmc_time_limit")
    if limit is not None and limit <= 0:
        raise pytest.UsageError(f"--zsmc-time-limit must be a positive number of seconds, got {limit}")
    from checker.schedulers import SCHEDULERS
    name = config.getoption("zsmc_scheduler")
    if name not in SCHEDULERS:
        raise pytest.UsageError(f"--zsmc-scheduler: unknown scheduler {name!r}; "
                                f"known: {', '.join(sorted(SCHEDULERS))}")


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

    def __call__(self, build, **overrides):
        import checker
        from checker.render import render_text
        from checker.trace import make_trace, save_trace

        unknown = set(overrides) - set(_OPTIONS)
        if unknown:
            pytest.fail(f"zsmc_check: unknown option(s) {sorted(unknown)}; known: {', '.join(_OPTIONS)}",
                        pytrace=False)
        o = {**self.options, **overrides}
        if o["expect"] not in ("pass", "violation"):
            pytest.fail(f"zsmc_check: expect must be 'pass' or 'violation', got {o['expect']!r}", pytrace=False)
        if o["depth"] is not None and _takes_depth(build):
            depth, inner = o["depth"], build

            def build():
                return inner(depth=depth)
        try:
            result = checker.explore(build, scheduler=o["scheduler"], properties=o["properties"],
                                     preemption_bound=o["preemption_bound"],
                                     max_executions=o["max_executions"], time_limit=o["time_limit"],
                                     seed=o["seed"])
        except checker.ZsmcError as exc:
            pytest.fail(f"zsmc: {exc}", pytrace=False)
        if o["expect"] == "violation":
            if not result.violations:
                pytest.fail(f"zsmc: expected a violation, found none ({result.summary()})", pytrace=False)
            return result
        if result.violations:
            v = result.violations[0]
            program = o["program"]
            trace = make_trace(v, program or {"loader": "", "params": {}}, build=build)
            lines = [f"zsmc: {v}  [{result.summary()}]", "", render_text(trace)]
            if program:
                path = save_trace(trace, str(self._out_dir))
                lines += ["", f"trace saved: {path}", f"replay: zsmc replay {path}"]
            pytest.fail("\n".join(lines), pytrace=False)
        return result


def _takes_depth(build) -> bool:
    try:
        return "depth" in inspect.signature(build).parameters
    except (TypeError, ValueError):
        return False


@pytest.fixture
def zsmc_check(request, tmp_path_factory):
    """Run a zsmc check on a build function with the command-line options and the ``zsmc`` marker."""
    cfg = request.config
    options = {"depth": cfg.getoption("zsmc_depth"), "scheduler": cfg.getoption("zsmc_scheduler"),
               "seed": cfg.getoption("zsmc_seed"), "time_limit": cfg.getoption("zsmc_time_limit"),
               "properties": None, "preemption_bound": None, "max_executions": None,
               "expect": "pass", "program": None}
    marker = request.node.get_closest_marker("zsmc")
    if marker is not None:
        unknown = set(marker.kwargs) - set(_OPTIONS)
        if marker.args or unknown:
            got = f"unknown option(s) {sorted(unknown)}" if unknown else f"positional {list(marker.args)}"
            pytest.fail(f"@pytest.mark.zsmc: {got}; it takes keyword options: {', '.join(_OPTIONS)}",
                        pytrace=False)
        options.update(marker.kwargs)
    return ZsmcCheck(options, tmp_path_factory.mktemp("zsmc-traces"))


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
    """A file this plugin claims: JSON whose ``format`` is ``zsmc-trace`` (any version)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == "zsmc-trace"


class TraceFailure(Exception):
    """A counterexample item failed: a one-line reason and the trace to show (or None)."""

    def __init__(self, message: str, trace=None):
        super().__init__(message)
        self.trace = trace


class TraceFile(pytest.File):
    def collect(self):
        yield TraceItem.from_parent(self, name="replay")


class TraceItem(pytest.Item):
    """Replays one trace file and checks its expectation."""

    def runtest(self):
        from checker.errors import UsageError
        from checker.trace import load_trace, replay

        shown = self._shown_path()
        try:
            trace = load_trace(shown if os.path.exists(shown) else str(self.path))
            out = replay(trace)
        except UsageError as exc:
            raise TraceFailure(str(exc)) from None
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
