"""Checkpoints of a split search (``--checkpoint``/``--resume``): data, never code.

A checkpoint is a JSON document (no pickle: reading one runs nothing), written
through a private temporary file and an atomic rename after each finished
subtree, and locked while a run uses it (``FILE.lock``, ``flock``) so two runs
never interleave their writes.  Its fields:

========  =================================================================
format    ``"zsmc-checkpoint"``, version ``3`` (3: a subtree's result holds its
          coverage and data races, which a resumed check's verdict needs)
search    what the checkpoint must match to be resumed (scenario parameters,
          the program's first branching)
plan      the subtrees: ``[index, prefix, guards, disjoint]``
done      ``{index: {"result", "state", "keys"}}`` for each finished subtree:
          its counts and violations, the monitors' exported states
          (``Monitor.export_state``: the lock-order dependencies it found),
          and the keys of the traces it explored
========  =================================================================

Every way a file can fail to be a checkpoint (not UTF-8 JSON, another format
or version, a badly shaped field, another search) is a one-line UsageError.
A damaged one too: a plan that is not the program's own split (the caller
recomputes it), a count that is not a non-negative integer (JSON ``true``,
``3.0``, ``1e999``, ``-1``), a trace key that is not an integer, a saved
violation whose schedule does not reproduce it (checker/parallel.py replays
each before reporting it).
"""

from __future__ import annotations

import json
import os
import stat

from .errors import UsageError
from .result import Result, Step, Violation
from .schedulers.replay import jsonable

FORMAT = "zsmc-checkpoint"
VERSION = 3
_RESULT_COUNTS = ("executions", "redundant", "deadlocks", "pruned", "steps", "violation_count",
                  "max_preemptions", "bound_cut")


def check_target(path: str) -> None:
    """``--checkpoint PATH`` may be written: absent, or a regular file holding a zsmc
    checkpoint (which it replaces). Anything else there (a text file, a trace, a FIFO,
    a device node, a symbolic link, a directory) is refused before the search: a
    checkpoint is written by renaming a new file over PATH, which would replace it."""
    if not isinstance(path, str) or not path:
        raise UsageError("--checkpoint needs a file name, got an empty one")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(f"--checkpoint {path}: cannot inspect it: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"--checkpoint {path} exists and is not a regular file ({_kind(st.st_mode)}): "
                         "refusing to replace it; name a new file or an earlier checkpoint")
    if not _holds_checkpoint(path):
        raise UsageError(f"--checkpoint {path} exists and is not a zsmc checkpoint: refusing to "
                         "overwrite it; name a new file or an earlier checkpoint")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISLNK, "a symbolic link"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _holds_checkpoint(path: str) -> bool:
    """Whether the regular file ``path`` is a zsmc checkpoint (of any search or version)."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(_HEAD))
            if head == _HEAD:
                return True         # as save() writes it
            f.seek(0)
            doc = json.loads(f.read().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and doc.get("format") == FORMAT


_HEAD = json.dumps({"format": FORMAT})[:-1].encode() + b","


def _regular_or_absent(path: str, what: str) -> None:
    """Raise UsageError unless ``path`` is absent or a regular file (not followed if a link)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(f"{what} {path}: cannot inspect it: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"{what} {path} is {_kind(st.st_mode)}, not a regular file: refusing to use it")


class CheckpointLock:
    """``FILE.lock`` held with ``flock`` while a run uses the checkpoint ``FILE``."""

    def __init__(self, path: str):
        self.path = path
        self.fd = None

    def acquire(self) -> None:
        import fcntl
        lock = f"{self.path}.lock"
        _regular_or_absent(lock, f"--checkpoint {self.path}: its lock file")
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as exc:
            raise UsageError(f"--checkpoint {self.path}: cannot create {lock}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise UsageError(f"--checkpoint {self.path} is in use by another zsmc run "
                             f"({lock} is locked)") from None
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)       # closing drops the flock; the lock file stays (see module doc)
            self.fd = None


def save(path: str, ident: str, plan, done: dict) -> None:
    from .trace import write_atomic
    doc = {"format": FORMAT, "version": VERSION, "search": ident,
           "plan": [[j.index, [list(k) for k in j.prefix], j.guards, j.disjoint] for j in plan],
           "done": {str(i): _out_json(out) for i, out in sorted(done.items())}}
    # Checked again as it is replaced: what appeared there during the search is kept.
    _regular_or_absent(path, "the checkpoint")
    try:
        write_atomic(path, json.dumps(jsonable(doc)))
    except OSError as exc:
        raise UsageError(f"cannot write the checkpoint {path}: {exc.strerror or exc}") from None


def load(path: str, ident: str, make_job, replan=None):
    """``(plan, done)`` from the checkpoint ``path``, which must be for the search ``ident``.

    ``replan(plan)``: the program's own split of the kind the file's plan is
    (by first choices, or at the depth of its longest prefix), which the plan
    must equal, job for job: a plan cut short, emptied, with a subtree twice or
    another prefix would count a part of the space as explored, or twice.  The
    program's own plan is returned.  Every count must be a non-negative integer
    (not a boolean), every key well-formed: a damaged checkpoint is a one-line
    UsageError, never a pass.
    """
    if not isinstance(path, str) or not path:
        raise UsageError("--resume needs a checkpoint file name, got an empty one")
    if not os.path.lexists(path):
        raise UsageError(f"--resume: no such checkpoint file: {path}")
    if not os.path.isfile(path):       # a FIFO would block, a device read forever
        raise UsageError(f"--resume {path} is not a regular file")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise UsageError(f"--resume: no such checkpoint file: {path}") from None
    except OSError as exc:
        raise UsageError(f"--resume: cannot read {path}: {exc.strerror or exc}") from None
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise UsageError(f"--resume: {path} is not a zsmc checkpoint (not JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise UsageError(f"--resume: {path} is not a zsmc checkpoint")
    if not _is_int(doc.get("version")) or doc.get("version") != VERSION:
        raise UsageError(f"--resume: {path} is checkpoint version {doc.get('version')!r}, "
                         f"this zsmc reads version {VERSION}")
    if doc.get("search") != ident:
        raise UsageError(f"--resume: {path} was written for another search (other scenario, "
                         "depth, variant or mutation)")
    try:
        plan = _plan_from(doc["plan"], make_job)
        if replan is not None:
            own = replan(plan)
            if _plan_json(own) != _plan_json(plan):
                raise ValueError(f"its plan of {len(plan)} subtree(s) is not this search's split "
                                 f"({len(own)} subtree(s))")
            plan = own
        by_index = {j.index: j for j in plan}
        if not isinstance(doc["done"], dict):
            raise TypeError("done is not an object")
        done = {}
        for key, out in doc["done"].items():
            if not (isinstance(key, str) and key.isdigit() and key == str(int(key))):
                raise ValueError(f"subtree key {key!r} is not an index")
            if int(key) not in by_index:
                raise ValueError(f"subtree {key} is not in the plan")
            done[int(key)] = _out_from(out, by_index[int(key)])
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as exc:
        raise UsageError(f"--resume: {path} is a damaged checkpoint ({type(exc).__name__}: {exc})") from None
    return plan, done


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _count(x, what: str, limit: int = 2 ** 63) -> int:
    """A count: a non-negative integer (a JSON ``true``, ``1.0``, ``1e999`` or ``-3`` is not)."""
    if not _is_int(x) or not 0 <= x < limit:
        raise ValueError(f"{what} is {_short(x)}, not a count")
    return x


def _short(x) -> str:
    r = repr(x)
    return r if len(r) <= 40 else r[:37] + "..."


def _plan_from(entries, make_job) -> list:
    if not isinstance(entries, list) or not entries:
        raise ValueError("the plan is not a non-empty list of subtrees")
    plan = []
    for n, e in enumerate(entries):
        if not isinstance(e, list) or len(e) != 4:
            raise ValueError(f"subtree {n} of the plan is not [index, prefix, guards, disjoint]")
        index, prefix, guards, disjoint = e
        if _count(index, f"subtree {n}'s index") != n:
            raise ValueError(f"subtree {n} of the plan has index {index}")
        if not isinstance(prefix, list) or not all(isinstance(k, list) and len(k) == 2 for k in prefix):
            raise ValueError(f"subtree {n}'s prefix is not a list of [task, choice]")
        for t, _ in prefix:
            _count(t, f"a task of subtree {n}'s prefix")
        if not isinstance(guards, bool) or not isinstance(disjoint, bool):
            raise ValueError(f"subtree {n}'s guards and disjoint are not booleans")
        plan.append(make_job(index, [tuple(k) for k in prefix], guards, disjoint))
    return plan


def _plan_json(plan) -> str:
    return json.dumps([[j.index, [list(k) for k in j.prefix], j.guards, j.disjoint] for j in plan],
                      default=repr)


# -- a subtree's outcome as JSON ------------------------------------------------------------------
def _out_json(out) -> dict:
    result, state, keys = out
    return {"result": result_json(result), "state": jsonable(state), "keys": sorted([k, d] for k, d in keys)}


def _out_from(d: dict, job=None):
    if not isinstance(d, dict):
        raise TypeError("a subtree's outcome is not an object")
    state = d["state"]
    if not isinstance(state, dict):
        raise TypeError("state is not an object")
    if not isinstance(d["keys"], list):
        raise TypeError("keys is not a list")
    keys = set()
    for e in d["keys"]:
        # a trace key is a hash(): a signed 64-bit integer, and whether the trace deadlocked
        if not (isinstance(e, list) and len(e) == 2 and _is_int(e[0]) and -2 ** 63 <= e[0] < 2 ** 63
                and isinstance(e[1], bool)):
            raise ValueError(f"trace key {_short(e)} is not [integer, boolean]")
        keys.add((e[0], e[1]))
    result = result_from(d["result"])
    if job is not None and job.disjoint and keys:
        raise ValueError(f"subtree {job.index} is disjoint but has trace keys")
    if len(keys) > result.executions:
        raise ValueError(f"subtree has {len(keys)} distinct traces but {result.executions} executions")
    return result, state, keys


def result_json(r: Result) -> dict:
    d = {k: getattr(r, k) for k in _RESULT_COUNTS}
    d.update(scheduler=r.scheduler, complete=r.complete, reason=r.reason, note=r.note,
             elapsed=r.elapsed, outcomes=[jsonable(o) for o in r.outcomes],
             violations=[violation_json(v) for v in r.violations],
             coverage=dict(sorted(r.coverage.items())), races=r.races, race=r.race)
    return d


def result_from(d: dict) -> Result:
    if not isinstance(d, dict):
        raise TypeError("a result is not an object")
    r = Result(scheduler=_str(d["scheduler"], "scheduler"))
    for k in _RESULT_COUNTS:
        setattr(r, k, _count(d[k], k))
    if not isinstance(d["complete"], bool):
        raise ValueError(f"complete is {_short(d['complete'])}, not a boolean")
    r.complete, r.reason, r.note = d["complete"], _str(d["reason"], "reason"), _str(d["note"], "note")
    elapsed = d["elapsed"]
    if isinstance(elapsed, bool) or not isinstance(elapsed, (int, float)) or not 0 <= elapsed < 1e12:
        raise ValueError(f"elapsed is {_short(elapsed)}, not a number of seconds")
    r.elapsed = float(elapsed)
    if not isinstance(d["outcomes"], list) or not isinstance(d["violations"], list):
        raise TypeError("outcomes and violations are not lists")
    r.outcomes = {_freeze(o) for o in d["outcomes"]}
    r.violations = [violation_from(v) for v in d["violations"]]
    # What ran (``fn:NAME``, ``pair:F+G`` -> executions): a resumed check judges the
    # changed code on it (exit 5), so it is the subtree's, or the file is refused.
    if not isinstance(d["coverage"], dict):
        raise TypeError("coverage is not an object")
    r.coverage = {k: _count(n, f"coverage of {_short(k)}") for k, n in d["coverage"].items()}
    r.races, r.race = _count(d["races"], "races"), _str(d["race"], "race")
    if r.violation_count < len(r.violations):
        raise ValueError(f"violation_count {r.violation_count} is below its {len(r.violations)} violation(s)")
    return r


def _str(x, what: str) -> str:
    if not isinstance(x, str):
        raise ValueError(f"{what} is {_short(x)}, not a string")
    return x


def violation_json(v: Violation) -> dict:
    return {"property": v.property, "message": v.message, "step": v.step, "task": v.task,
            "schedule": jsonable(v.schedule), "steps": [s.to_json() for s in v.steps],
            "involved": list(v.involved), "execution": v.execution, "tasks": jsonable(v.tasks),
            "runs": jsonable(getattr(v, "runs", []) or [])}


def violation_from(d: dict) -> Violation:
    """A violation as saved; :func:`checker.parallel` replays its schedule before reporting it."""
    if not isinstance(d, dict):
        raise TypeError("a violation is not an object")
    if not isinstance(d["steps"], list) or not all(isinstance(s, dict) for s in d["steps"]):
        raise TypeError("a violation's steps are not a list of objects")
    steps = [Step(_count(s["i"], "a step's index"), _count(s["task"], "a step's task"),
                  _str(s["name"], "a step's task name"), s["cpu"],
                  _str(s["action"], "a step's action"), s.get("result"), s.get("choice"),
                  bool(s.get("preemption")), _count(s.get("pc", 0), "a step's pc")) for s in d["steps"]]
    if d["task"] is not None and not isinstance(d["task"], str):
        raise ValueError("a violation's task is not a name")
    step = d["step"]
    if not _is_int(step) or not -1 <= step < 2 ** 63:
        raise ValueError(f"a violation's step is {_short(step)}")
    if not isinstance(d["involved"], list) or not all(_is_int(i) for i in d["involved"]):
        raise ValueError("a violation's involved steps are not integers")
    if not isinstance(d["tasks"], list) or not all(isinstance(t, list) for t in d["tasks"]):
        raise ValueError("a violation's tasks are not lists")
    runs = d.get("runs") or []
    if not isinstance(runs, list):
        raise ValueError("a violation's runs are not a list")
    v = Violation(property=_str(d["property"], "a violation's property"),
                  message=_str(d["message"], "a violation's message"), step=step, task=d["task"],
                  schedule=_schedule(d["schedule"]), steps=steps, involved=tuple(d["involved"]),
                  execution=_count(d["execution"], "a violation's execution"),
                  tasks=[tuple(t) for t in d["tasks"]])
    if runs:
        v.runs = [_schedule(r) for r in runs]
    return v


def _schedule(s) -> list:
    if not isinstance(s, list) or not all(isinstance(e, list) and len(e) == 2 for e in s):
        raise ValueError("a schedule is not a list of [task, choice]")
    return [(_count(t, "a schedule's task"), c) for t, c in s]


def _freeze(x):
    """JSON lists back into the tuples they were (outcomes, lock classes)."""
    if isinstance(x, list):
        return tuple(_freeze(y) for y in x)
    return x
