"""Trace files: the saved artefact of a violation, and its exact replay.

A trace is a versioned JSON object (ARCHITECTURE.md section 6; style.md
lessons 9-10).  Its fields:

============  ==============================================================
format        ``"zsmc-trace"``; version: ``2`` (version 1, without ``runs``,
              is read too); zsmc: the writing version
program       ``{"loader": "module:function", "params": {...}}``.
              ``loader(params)`` returns the build function; the params
              carry everything that makes the program (variant, mutation,
              scenario, depth, CPUs, tasks, initial pool).  A trace is data:
              the loader must be one registered with :func:`register_loader`
              (a model registers its own when it is imported), never a
              module the file names, and that loader runs a variant file
              only when the user named it (docs/cli.md, "Trust").
expect        ``"violation"``: a seeded bug that must stay found; ``"pass"``:
              a fixed bug kept as a regression (the schedule must not violate)
violation     ``{"property", "message", "step", "task", "involved"}``
tasks         ``[{"name", "cpu", "role"}]`` of the program
schedule      ``[[task index, choice value], ...]``: one pair per step up to
              the violating step.  **The source of truth**; everything
              below is recomputed by a replay.
events        one object per step, for readers: ``i, task, name, cpu, op,
              action``, and when they apply ``obj, lock, shared, label, info,
              result, choice, preemption, pc``
pending       what each unfinished task was about to do at the end (and why
              it could not, for a deadlock)
runs          (optional) earlier executions the violation needs, replayed
              first in order with the same monitors: a lock-order cycle
              whose edges were seen in several runs.  Each is
              ``{"schedule", "events", "stats"}``, ``schedule`` required.
stats         ``{"steps", "preemptions", "context_switches"}``
meta          free-form facts from the writer (command line, minimisation)
============  ==============================================================

Only ``format, version, program, expect, violation, schedule`` are required
to replay.  Every way a trace can be unusable (not UTF-8 JSON, another format
or version, a missing or malformed field, a loader that is not registered or
does not load, a schedule the program no longer follows) is a
:class:`~checker.errors.UsageError` with one line (the shape checks are in
:mod:`checker.trace_check`).
"""

from __future__ import annotations

import errno
import hashlib
import importlib
import json
import os
import re
import stat
import tempfile
from dataclasses import dataclass, field

from . import actions as A
from .errors import UsageError, ZsmcError
from .explore import explore
from .objects import Lock
from .schedulers.replay import Replay, jsonable
from .trace_check import (  # noqa: F401 - re-exported
    EXPECTS,
    FORMAT,
    READS,
    VERSION,
    VERSION_OTHER_PROGRAMS,
    _check_program,
    check_trace,
)

# The loaders a trace may name: code the user installed, never a module a file picks.
# A model registers its own (register_loader) when it is imported.
LOADERS = set()
MAX_TRACE_BYTES = 64 << 20
# Properties the World reports itself, with no monitor to load.
WORLD_PROPERTIES = frozenset({"bug"})


@dataclass(slots=True, frozen=True)
class ReplayOutcome:
    """What :func:`replay` found.

    ``reproduced``: the trace's property was violated at the trace's step.
    ``violation``: the violation the replay found (the reproduced one, else
    the first one, else None).  ``trace``: the trace with its events, pending
    actions and stats recomputed from this run.  ``world``: the execution.
    """

    reproduced: bool
    violation: object
    message: str
    trace: dict = field(default=None, repr=False, compare=False)
    world: object = field(default=None, repr=False, compare=False)


# -- making and saving ---------------------------------------------------------

def make_trace(violation, program: dict, expect: str = "violation", meta: dict | None = None,
               build=None) -> dict:
    """The trace of ``violation`` (a :class:`checker.Violation`) for ``program``.

    The events are recomputed by replaying the schedule on ``build`` (default:
    the program's loader), so they carry lock kinds and labels; if that replay
    fails, they fall back to the violation's own steps and ``meta["note"]``
    says why.  Never raises for a replay problem: a trace is written before
    anything is raised (style.md lesson 10).
    """
    _check_program(program, "make_trace")
    if expect not in EXPECTS:
        raise UsageError(f"expect must be one of {EXPECTS}, got {expect!r}")
    trace = {
        "format": FORMAT, "version": VERSION, "zsmc": _version(),
        "program": {"loader": program["loader"], "params": jsonable(program.get("params") or {})},
        "expect": expect,
        "violation": {"property": violation.property, "message": violation.message,
                      "step": violation.step, "task": violation.task,
                      "involved": list(violation.involved)},
        "tasks": [{"name": n, "cpu": c, "role": r} for n, c, r in violation.tasks],
        "schedule": [[t, jsonable(c)] for t, c in violation.schedule],
        "meta": dict(meta or {}),
    }
    runs = getattr(violation, "runs", None)
    if runs:
        trace["runs"] = [run_json(r) for r in runs]
        if any("program" in r for r in trace["runs"]):
            trace["version"] = VERSION_OTHER_PROGRAMS
    try:
        out = _replay(trace, build if build is not None else resolve_build(trace["program"]), None)
        if not out.reproduced:
            raise UsageError(out.message)
        for k in ("events", "pending", "stats", "runs"):
            if k in out.trace:
                trace[k] = out.trace[k]
    except ZsmcError as exc:
        trace["meta"]["note"] = f"events taken from the search, the replay failed: {_line(exc)}"
        trace["events"] = [_step_json(s) for s in violation.steps]
        trace["pending"] = []
        trace["stats"] = counts(trace["events"])
    return trace


def run_json(run) -> dict:
    """An earlier run of a violation (:attr:`Violation.runs`) as a trace stores it: a
    schedule of the violation's own program, or ``{"program", "schedule"}`` for a run
    of another one (a scenario of the same check: trace version 3)."""
    if isinstance(run, dict):
        out = {"schedule": [[t, jsonable(c)] for t, c in run["schedule"]]}
        if run.get("program") is not None:
            out["program"] = {"loader": run["program"]["loader"],
                              "params": jsonable(run["program"].get("params") or {})}
        return out
    return {"schedule": [[t, jsonable(c)] for t, c in run]}


def _without_paths(value):
    if isinstance(value, dict):
        return {k: _without_paths(v) for k, v in value.items() if k != "path"}
    if isinstance(value, list):
        return [_without_paths(v) for v in value]
    return value


def save_trace(trace: dict, out_dir: str, name: str | None = None) -> str:
    """Write ``trace`` as ``out_dir/name`` (default: property and a digest); returns the path."""
    if name is None:
        # Where a file was is not what the trace is (a variant file's content
        # hash is): the same counterexample gets the same name in any folder.
        digest = hashlib.sha256(json.dumps([_without_paths(trace["program"]), trace["schedule"]],
                                           sort_keys=True).encode()).hexdigest()[:10]
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(trace["violation"]["property"])).strip("-")
        name = f"{slug or 'trace'}-{digest}"
    if not name.endswith(".json"):
        name += ".json"
    path = os.path.join(out_dir, name)
    try:
        os.makedirs(out_dir, exist_ok=True)
        write_atomic(path, dumps(trace))
    except OSError as exc:
        raise UsageError(f"cannot write the trace into {out_dir}: {exc.strerror or exc}") from None
    return path


def write_trace_file(trace: dict, path: str) -> str:
    """Write ``trace`` as exactly ``path`` (its folder created; no suffix added)."""
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        write_atomic(path, dumps(trace))
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def write_atomic(path: str, text: str, mode: int | None = None) -> None:
    """Write ``text`` to ``path`` through a temporary file of its own in the same
    directory and an atomic rename: a reader sees the old file or the new one,
    two writers never share a temporary name, and a failed write leaves nothing.
    ``mode``: the new file's permissions (default: the temporary file's, 0600)."""
    if os.path.islink(path):
        # The rename would replace the link itself, a link to a file or one that leads
        # nowhere (a loop): ``minimize -o LINK`` left a regular file where the user's link
        # was.  A link to a file is written through, as ``open(LINK, "w")`` would; a link
        # that leads nowhere is refused.
        try:
            path = os.path.realpath(path, strict=True)
        except OSError as exc:
            why = "to nothing" if isinstance(exc, FileNotFoundError) else \
                f"that leads nowhere ({exc.strerror or exc})"
            raise OSError(errno.EINVAL, f"it is a symbolic link {why}; zsmc writes regular files only") from None
    folder = os.path.dirname(path) or "."
    # The rename replaces whatever ``path`` names: run as root, ``minimize -o /dev/null``
    # would have replaced the device itself with a regular file (a FIFO was replaced
    # likewise).  Only a regular file, or nothing, is replaced.
    try:
        mode_now = os.stat(path).st_mode
    except OSError:
        mode_now = None
    if mode_now is not None and not stat.S_ISREG(mode_now):
        kind = ("a FIFO" if stat.S_ISFIFO(mode_now) else "a device" if stat.S_ISCHR(mode_now) or
                stat.S_ISBLK(mode_now) else "a socket" if stat.S_ISSOCK(mode_now) else "not a regular file")
        raise OSError(errno.EINVAL, f"it is {kind}; zsmc writes regular files only")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def public_mode(path: str) -> int:
    """The permissions a file written for people gets: those of the file it replaces,
    else what ``open()`` would give (0666 less the umask)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o666 & ~mask


def dumps(trace: dict) -> str:
    """The trace as JSON text: one line per field, one line per step (diff-friendly)."""
    lines = []
    for k, v in trace.items():
        key = json.dumps(k)
        if isinstance(v, list) and v and k in ("schedule", "events", "pending", "tasks", "runs"):
            inner = ",\n  ".join(json.dumps(x, ensure_ascii=False) for x in v)
            lines.append(f" {key}: [\n  {inner}\n ]")
        else:
            lines.append(f" {key}: {json.dumps(v, ensure_ascii=False)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


# -- loading and checking ----------------------------------------------------------

def load_trace(path: str) -> dict:
    """Read and check a trace file; every problem is a one-line UsageError."""
    try:
        data = read_regular(path, MAX_TRACE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read trace {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_TRACE_BYTES:
        raise UsageError(f"{path} is not a zsmc trace: larger than {MAX_TRACE_BYTES >> 20} MiB")
    try:
        # utf-8-sig: a byte-order mark (an editor on Windows adds one) is not a reason to
        # refuse a trace; JSON's RFC 8259 lets a reader ignore it.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not a zsmc trace: not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise UsageError(f"{path} is not a zsmc trace: it is empty")
    if text.startswith("version https://git-lfs.github.com/spec/"):
        raise UsageError(f"{path} is not a zsmc trace: it is a Git LFS pointer to one "
                         f"(git lfs pull fetches the file)")
    try:
        trace = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"{path} is not a zsmc trace: not valid JSON ({_line(exc)})") from None
    if _SURROGATE.search(text):
        # JSON can spell half of a UTF-16 pair (\ud800) alone: a string that is not
        # text, which nothing can print or write.
        try:
            json.dumps(trace, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise UsageError(f"{path} is not a zsmc trace: a string holds a lone UTF-16 surrogate "
                             f"(\\u{ord(exc.object[exc.start]):04x}), not text") from None
    check_trace(trace, path)
    return trace


_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def read_regular(path: str, limit: int) -> bytes:
    """At most ``limit`` bytes of the regular file ``path``.  Anything else (a FIFO,
    which would block forever for a writer, a device, a socket) is an OSError with
    a ``strerror`` that says what it is; the file is opened without blocking first,
    so nothing waits."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a directory" if stat.S_ISDIR(mode)
                    else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                    else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
            raise OSError(errno.EINVAL, f"not a regular file: {kind}" if kind.startswith("a ") else kind)
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb") as f:
            fd = None
            return f.read(limit)
    finally:
        if fd is not None:
            os.close(fd)


def register_loader(loader: str) -> None:
    """Allow traces to name ``loader`` (``"module:function"``, ``function(params)``
    returning a build function): code of yours, registered by your code."""
    module, sep, attr = loader.partition(":") if isinstance(loader, str) else ("", "", "")
    if not sep or not module or not attr:
        raise UsageError(f"a trace loader is 'module:function', got {loader!r}")
    LOADERS.add(loader)


def resolve_build(program: dict):
    """The build function of a trace's program: ``loader(params)``, for a registered loader."""
    loader = program["loader"]
    if loader not in LOADERS:
        _loader_parts(loader)
        raise UsageError(f"trace loader {loader} is not a registered loader ({', '.join(sorted(LOADERS))}): "
                         "zsmc imports no module a trace names (checker.trace.register_loader)")
    return load_build(program)


def _loader_parts(loader):
    module, sep, attr = loader.partition(":") if isinstance(loader, str) else ("", "", "")
    if not sep or not module or not attr:
        raise UsageError(f"trace loader {loader!r} is not of the form module:function")
    return module, attr


def load_build(program: dict):
    """The build function of ``program`` (``{"loader": "module:function", "params": ...}``),
    whatever its loader: for a program of the user's own making (a split search's
    workers rebuild theirs so); a trace's goes through :func:`resolve_build`."""
    loader = program["loader"]
    module, attr = _loader_parts(loader)
    try:
        fn = importlib.import_module(module)
        for part in attr.split("."):
            fn = getattr(fn, part)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"cannot load the trace's program: loader {loader} ({_line(exc)})") from None
    try:
        build = fn(program.get("params") or {})
    except Exception as exc:  # noqa: BLE001 -- any loader failure is the trace's problem, in one line
        raise UsageError(f"cannot load the trace's program with {loader}: {_line(exc)}") from None
    if not callable(build):
        raise UsageError(f"trace loader {loader} returned {build!r}, not a build function")
    return build


# -- replay -----------------------------------------------------------------------------

def replay(trace: dict, properties=None) -> ReplayOutcome:
    """Re-execute the trace's schedule and say whether its violation is reproduced.

    ``properties``: None checks the trace's own property; ``"all"`` every
    property that applies; a list, those.  Raises UsageError (one line) for an
    unusable trace, a loader that does not load, and a schedule that diverges.
    """
    check_trace(trace)
    return _replay(trace, resolve_build(trace["program"]), properties)


def _replay(trace: dict, build, properties) -> ReplayOutcome:
    viol = trace["violation"]
    prop, step = viol["property"], viol["step"]
    sched = trace["schedule"]
    runs = trace.get("runs") or []
    names = [t["name"] for t in trace["tasks"]] if trace.get("tasks") else None
    props = _properties(prop, properties)
    # Runs of other programs first (trace version 3), each explored on its own program
    # with monitors that go on from what the runs before saw (Monitor.carry_over).
    foreign = [r for r in runs if "program" in r]
    runs = [r for r in runs if "program" not in r]
    foreign_json = []
    if foreign:
        props, found, foreign_json = _replay_foreign(foreign, props)
        if found is not None:
            msg = f"not reproduced: {found}"
            return ReplayOutcome(False, None, msg, dict(trace), None)
    replayer = Replay(sched, _expected(trace.get("events"), sched), names,
                      before=[r["schedule"] for r in runs],
                      expected_before=[_expected(r.get("events"), r["schedule"]) for r in runs])
    result = explore(build, scheduler=replayer, properties=props, stop_on_violation=True)
    world = replayer.world
    found = result.violations
    last = replayer.run == len(runs)
    same = [v for v in found if last and v.property == prop and v.step == step]
    if same:
        v = same[0]
        msg = f"reproduced: [{prop}] at step {step}: {v.message}"
        if runs or foreign:
            msg = (f"reproduced after {len(runs) + len(foreign)} earlier run(s): [{prop}] at step "
                   f"{step}: {v.message}")
    else:
        v = found[0] if found else None
        if v is None:
            msg = f"not reproduced: no violation of {prop} in the {len(sched)} recorded steps"
        elif not last:
            msg = (f"not reproduced: [{v.property}] at step {v.step} of earlier run {replayer.run + 1} "
                   f"came first: {v.message}")
            v = None
        elif v.property == prop:
            msg = f"not reproduced: {prop} was violated at step {v.step}, the trace says step {step}"
        else:
            msg = f"not reproduced: [{v.property}] at step {v.step} came first: {v.message}"
    out = _retrace(trace, world if last else None, v, replayer.preempts)
    if (runs or foreign) and last:
        out["runs"] = foreign_json + [_run_json(r, w, p) for r, w, p in
                                      zip(runs, replayer.worlds[:-1], replayer.all_preempts[:-1])]
    return ReplayOutcome(bool(same), v, msg, out, world if last else None)


def _replay_foreign(runs, props):
    """Replay ``runs`` (each with a ``program`` of its own), in order, with the same
    monitors carried from one program to the next.  Returns the properties for the
    trace's own program (monitors that go on from these runs), what was violated
    first if anything was (None: nothing), and the runs with their events."""
    from .monitor import ENGINE_PROPERTIES, resolve
    names = [p for p in (props or []) if isinstance(p, str) and p in ENGINE_PROPERTIES]
    if props is None:
        raise UsageError("a trace whose earlier runs are of other programs replays with its own "
                         "property only (not --property all)")
    monitors = [m for m in (resolve(p) for p in props) if m is not None]
    out = []
    for k, r in enumerate(runs):
        replayer = Replay(r["schedule"], _expected(r.get("events"), r["schedule"]))
        res = explore(resolve_build(r["program"]), scheduler=replayer, properties=monitors + names,
                      stop_on_violation=True)
        if res.violations:
            v = res.violations[0]
            return monitors + names, (f"[{v.property}] at step {v.step} of earlier run {k + 1} (of "
                                      f"another program) came first: {v.message}"), out
        d = _run_json(r, replayer.world, replayer.preempts)
        d["program"] = r["program"]
        out.append(d)
        monitors = [m.carry_over() for m in monitors]
    return monitors + names, None, out


def _expected(events, sched):
    """What each recorded step did (op, object name), when the trace says it for every step."""
    if isinstance(events, list) and len(events) == len(sched) and all("op" in e for e in events):
        return [(e["op"], e.get("obj")) for e in events]
    return None


def _run_json(run: dict, world, preempts) -> dict:
    """An earlier run of a trace, its events recomputed from its replay."""
    events = events_json(world, None, preempts)
    return {"schedule": run["schedule"], "events": events, "stats": counts(events)}


def _properties(prop: str, properties):
    if properties == "all":
        return None
    if properties is not None:
        return list(properties)
    if prop in WORLD_PROPERTIES:
        return []
    from .monitor import ENGINE_PROPERTIES, REGISTRY
    if prop in ENGINE_PROPERTIES:
        return [prop]       # data-race: named, so the replay reports it (it adds no monitor)
    if prop not in REGISTRY:
        raise UsageError(f"the trace's property {prop!r} is not registered here; "
                         f"known: {', '.join(sorted(REGISTRY))}")
    return [prop]


def _retrace(trace: dict, world, violation, preempts=None) -> dict:
    """A copy of ``trace`` whose events and stats come from ``world`` (and ``violation``)."""
    out = dict(trace)
    if world is None:
        return out
    upto = len(world.events) - 1
    if violation is not None:
        upto = violation.step
        out["violation"] = {"property": violation.property, "message": violation.message,
                            "step": violation.step, "task": violation.task,
                            "involved": list(violation.involved)}
        out["schedule"] = [[t, jsonable(c)] for t, c in violation.schedule]
    out["tasks"] = [{"name": t.name, "cpu": t.cpu, "role": t.role} for t in world.tasks]
    out["events"] = events_json(world, upto, preempts)
    out["pending"] = [{"task": i, "name": n, "action": a, "why": w}
                      for i, n, a, w in world.blocked_description()]
    out["stats"] = counts(out["events"])
    return out


# -- events for readers ------------------------------------------------------------------

def events_json(world, upto: int | None = None, preempts=None) -> list:
    """The events of ``world`` (up to step ``upto``) in a trace's JSON form.

    ``preempts`` (from :class:`~checker.schedulers.replay.Replay`) gives each
    step's preemption flag as judged before the step, the rule of the
    preemption bound; without it the flag is ``Event.preemption``.
    """
    tasks = world.tasks
    evs = world.events if upto is None else world.events[:upto + 1]
    out = []
    for e in evs:
        t = tasks[e.task]
        a = e.action
        d = {"i": e.index, "task": e.task, "name": t.name, "cpu": t.cpu, "op": a.name,
             "action": a.describe()}
        o = a.obj
        if o is not None:
            d["obj"] = o.name
            if isinstance(o, Lock):
                d["lock"] = o.kind
                if a.op in (A.ACQUIRE, A.TRYLOCK) and a.arg:
                    d["shared"] = True
        if a.op == A.LABEL:
            d["label"] = a.arg
            if a.arg2:
                d["info"] = jsonable(a.arg2)
        if e.result is not None:
            d["result"] = jsonable(e.result)
        if e.choice is not None:
            d["choice"] = jsonable(e.choice)
        if (preempts[e.index] if preempts is not None and e.index < len(preempts) else e.preemption):
            d["preemption"] = True
        if e.pc:
            d["pc"] = e.pc
        out.append(d)
    return out


def counts(events: list) -> dict:
    """Steps, preemptions and context switches (a CPU changing task) of a trace's events."""
    last = {}
    switches = 0
    for e in events:
        c = e["cpu"]
        if c in last and last[c] != e["task"]:
            switches += 1
        last[c] = e["task"]
    return {"steps": len(events), "preemptions": sum(1 for e in events if e.get("preemption")),
            "context_switches": switches}


def _step_json(s) -> dict:
    d = s.to_json()
    d["op"] = s.action.split("(", 1)[0]
    return d


def _version() -> str:
    from . import __version__
    return __version__


def _line(exc) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
