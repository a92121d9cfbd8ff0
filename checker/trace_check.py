"""The shape of a trace file: what a reader may rely on (checker/trace.py).

Every way a dict can fail to be a trace this zsmc reads (another format or
version, a missing field, a required or optional field of the wrong shape) is
one :class:`~checker.errors.UsageError` line naming the field, so ``replay``,
``show`` and ``minimize`` never meet a malformed trace later (exit 2, never
4).
"""

from __future__ import annotations

from .errors import UsageError

FORMAT = "zsmc-trace"
VERSION = 2
# Version 3: an earlier run may carry a "program" of its own (a lock-order cycle
# whose edges were taken in several scenarios of one check).  Written only by a
# trace that has such a run, so that every other trace stays readable by a zsmc
# that reads version 2, and one that does not know the field refuses the trace
# instead of replaying a run on the wrong program.
VERSION_OTHER_PROGRAMS = 3
READS = (1, 2, 3)
EXPECTS = ("violation", "pass")
REQUIRED = ("program", "expect", "violation", "schedule")


def check_trace(trace, where: str = "trace") -> None:
    """Raise a one-line UsageError unless ``trace`` is a trace this version can replay."""
    if not isinstance(trace, dict) or trace.get("format") != FORMAT:
        fmt = trace.get("format") if isinstance(trace, dict) else type(trace).__name__
        raise UsageError(f"{where} is not a zsmc trace (format {fmt!r}, expected {FORMAT!r})")
    v = trace.get("version")
    if not _int(v) or v not in READS:        # not true, not 2.0: the integer a writer writes
        raise UsageError(f"{where} is a zsmc trace of version {v!r}; zsmc {_version()} reads "
                         f"versions {', '.join(map(str, READS))} (re-record it with this zsmc)")
    for k in REQUIRED:
        if k not in trace:
            raise UsageError(f"{where}: the trace has no {k!r} field")
    _check_program(trace["program"], where)
    if trace["expect"] not in EXPECTS:
        raise UsageError(f"{where}: 'expect' must be one of {list(EXPECTS)}, got {trace['expect']!r}")
    viol = trace["violation"]
    if (not isinstance(viol, dict) or not isinstance(viol.get("property"), str)
            or not _int(viol.get("step"))):
        raise UsageError(f"{where}: 'violation' needs a string 'property' and an integer 'step'")
    if not _schedule_ok(trace["schedule"]):
        raise UsageError(f"{where}: 'schedule' must be a list of [task index, choice] pairs")
    _check_optional(trace, where)
    _check_steps(trace, where)


def _check_steps(trace: dict, where: str) -> None:
    """The violation's steps lie within the schedule, which runs up to the violating
    step: a schedule cut short (or a step moved past it) would replay as "not
    reproduced", i.e. as a fixed bug.  A violation before any step (a task that
    fails before its first yield) is step -1 with an empty schedule."""
    viol, n = trace["violation"], len(trace["schedule"])
    step = viol["step"]
    if not (0 <= step < n or (step == -1 and n == 0)):
        span = (f"its {n}-step schedule (steps 0..{n - 1})" if n else
                "its empty schedule (only a violation before any step, step -1, has none)")
        raise UsageError(f"{where}: malformed trace: the violation is at step {_num(step)}, outside "
                         f"{span}; a schedule runs up to the violating step")
    bad = [i for i in viol.get("involved", []) if not 0 <= i < n]
    if bad:
        raise UsageError(f"{where}: malformed trace: the violation's 'involved' step {_num(bad[0])} is "
                         f"outside its {n}-step schedule")


def _num(i: int) -> str:
    return str(i) if -10**12 < i < 10**12 else f"a {len(str(abs(i)))}-digit {'negative ' if i < 0 else ''}number"


def _schedule_ok(sched) -> bool:
    return isinstance(sched, list) and all(
        isinstance(s, list) and len(s) == 2 and isinstance(s[0], int) and not isinstance(s[0], bool)
        and s[0] >= 0 for s in sched)


def _check_optional(trace: dict, where: str) -> None:
    """The optional fields, when present, have the shape readers (show, replay) rely on."""
    viol = trace["violation"]
    if not isinstance(viol.get("message", ""), str) or not isinstance(viol.get("task"), (str, type(None))):
        raise UsageError(f"{where}: 'violation' 'message' and 'task' must be strings")
    if not _ints(viol.get("involved", [])):
        raise UsageError(f"{where}: 'violation' 'involved' must be a list of step indices")
    tasks = trace.get("tasks")
    if tasks is not None and not (isinstance(tasks, list) and all(
            isinstance(t, dict) and isinstance(t.get("name"), str) and _int(t.get("cpu"))
            and isinstance(t.get("role"), (str, type(None))) for t in tasks)):
        raise UsageError(f"{where}: 'tasks' must be a list of {{\"name\", \"cpu\", \"role\"}}")
    _check_events(trace.get("events"), where, "events")
    pending = trace.get("pending")
    if pending is not None and not (isinstance(pending, list) and all(
            isinstance(p, dict) and isinstance(p.get("name"), str) and isinstance(p.get("action"), str)
            and isinstance(p.get("why", ""), str) for p in pending)):
        raise UsageError(f"{where}: 'pending' must be a list of {{\"name\", \"action\", \"why\"}}")
    for k in ("stats", "meta"):
        if k in trace and not isinstance(trace[k], dict):
            raise UsageError(f"{where}: {k!r} must be a JSON object")
    runs = trace.get("runs")
    if runs is None:
        return
    if trace["version"] < 2 or not isinstance(runs, list) or not all(
            isinstance(r, dict) and _schedule_ok(r.get("schedule")) for r in runs):
        raise UsageError(f"{where}: 'runs' must be a list of {{\"schedule\": [[task index, choice], ...]}} "
                         "(trace version 2)")
    for k, r in enumerate(runs):
        _check_events(r.get("events"), where, f"runs[{k}].events")
        if "program" in r:
            if trace["version"] < VERSION_OTHER_PROGRAMS:
                raise UsageError(f"{where}: runs[{k}] has a 'program' of its own, which needs trace "
                                 f"version {VERSION_OTHER_PROGRAMS}, not {trace['version']}")
            _check_program(r["program"], f"{where}: runs[{k}]")


def _check_events(events, where, name) -> None:
    if events is None:
        return
    if not isinstance(events, list) or not all(
            isinstance(e, dict) and _int(e.get("i")) and _int(e.get("task")) and _int(e.get("cpu"))
            and isinstance(e.get("name"), str) and isinstance(e.get("op", ""), str)
            and isinstance(e.get("action", ""), str) and isinstance(e.get("info", {}), dict)
            and isinstance(e.get("lock", ""), str) for e in events):
        raise UsageError(f"{where}: {name!r} must be a list of steps "
                         "{\"i\", \"task\", \"name\", \"cpu\", \"op\", ...}")


def _int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _ints(xs) -> bool:
    return isinstance(xs, list) and all(_int(x) for x in xs)


def _check_program(program, where) -> None:
    if (not isinstance(program, dict) or not isinstance(program.get("loader"), str)
            or not isinstance(program.get("params", {}), dict)):
        raise UsageError(f"{where}: 'program' must be {{\"loader\": \"module:function\", \"params\": {{...}}}}, "
                         f"got {program!r}")


def _version() -> str:
    from . import __version__
    return __version__
