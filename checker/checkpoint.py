"""Checkpoints of a split search (``--checkpoint``/``--resume``): data, never code.

A checkpoint is a JSON document (no pickle: reading one runs nothing), written
through a private temporary file and an atomic rename after each finished
subtree, and locked while a run uses it (``FILE.lock``, ``flock``) so two runs
never interleave their writes.  Its fields:

========  =================================================================
format    ``"zsmc-checkpoint"``, version ``2``
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
"""

from __future__ import annotations

import json
import os

from .errors import UsageError
from .result import Result, Step, Violation
from .schedulers.replay import jsonable

FORMAT = "zsmc-checkpoint"
VERSION = 2
_RESULT_COUNTS = ("executions", "redundant", "deadlocks", "pruned", "steps", "violation_count",
                  "max_preemptions", "bound_cut")


class CheckpointLock:
    """``FILE.lock`` held with ``flock`` while a run uses the checkpoint ``FILE``."""

    def __init__(self, path: str):
        self.path = path
        self.fd = None

    def acquire(self) -> None:
        import fcntl
        lock = f"{self.path}.lock"
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
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
    try:
        write_atomic(path, json.dumps(jsonable(doc)))
    except OSError as exc:
        raise UsageError(f"cannot write the checkpoint {path}: {exc.strerror or exc}") from None


def load(path: str, ident: str, make_job):
    """``(plan, done)`` from the checkpoint ``path``, which must be for the search ``ident``."""
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
    if doc.get("version") != VERSION:
        raise UsageError(f"--resume: {path} is checkpoint version {doc.get('version')!r}, "
                         f"this zsmc reads version {VERSION}")
    if doc.get("search") != ident:
        raise UsageError(f"--resume: {path} was written for another search (other scenario, "
                         "depth, variant or mutation)")
    try:
        plan = [make_job(int(e[0]), [tuple(k) for k in e[1]], bool(e[2]), bool(e[3])) for e in doc["plan"]]
        indices = {j.index for j in plan}
        done = {}
        for key, out in doc["done"].items():
            if int(key) not in indices:
                raise ValueError(f"subtree {key} is not in the plan")
            done[int(key)] = _out_from(out)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise UsageError(f"--resume: {path} is a damaged checkpoint ({type(exc).__name__}: {exc})") from None
    return plan, done


# -- a subtree's outcome as JSON ------------------------------------------------------------------
def _out_json(out) -> dict:
    result, state, keys = out
    return {"result": result_json(result), "state": jsonable(state), "keys": sorted([k, d] for k, d in keys)}


def _out_from(d: dict):
    state = d["state"]
    if not isinstance(state, dict):
        raise TypeError("state is not an object")
    keys = {(int(k), bool(dl)) for k, dl in d["keys"]}
    return result_from(d["result"]), state, keys


def result_json(r: Result) -> dict:
    d = {k: getattr(r, k) for k in _RESULT_COUNTS}
    d.update(scheduler=r.scheduler, complete=r.complete, reason=r.reason, note=r.note,
             elapsed=r.elapsed, outcomes=[jsonable(o) for o in r.outcomes],
             violations=[violation_json(v) for v in r.violations])
    return d


def result_from(d: dict) -> Result:
    r = Result(scheduler=str(d["scheduler"]))
    for k in _RESULT_COUNTS:
        setattr(r, k, int(d[k]))
    r.complete, r.reason, r.note = bool(d["complete"]), str(d["reason"]), str(d["note"])
    r.elapsed = float(d["elapsed"])
    r.outcomes = {_freeze(o) for o in d["outcomes"]}
    r.violations = [violation_from(v) for v in d["violations"]]
    return r


def violation_json(v: Violation) -> dict:
    return {"property": v.property, "message": v.message, "step": v.step, "task": v.task,
            "schedule": jsonable(v.schedule), "steps": [s.to_json() for s in v.steps],
            "involved": list(v.involved), "execution": v.execution, "tasks": jsonable(v.tasks),
            "runs": jsonable(getattr(v, "runs", []) or [])}


def violation_from(d: dict) -> Violation:
    steps = [Step(s["i"], s["task"], s["name"], s["cpu"], s["action"], s.get("result"), s.get("choice"),
                  bool(s.get("preemption")), s.get("pc", 0)) for s in d["steps"]]
    v = Violation(property=str(d["property"]), message=str(d["message"]), step=int(d["step"]), task=d["task"],
                  schedule=[(int(t), c) for t, c in d["schedule"]], steps=steps,
                  involved=tuple(d["involved"]), execution=int(d["execution"]),
                  tasks=[tuple(t) for t in d["tasks"]])
    if d.get("runs"):
        v.runs = [[(int(t), c) for t, c in r] for r in d["runs"]]
    return v


def _freeze(x):
    """JSON lists back into the tuples they were (outcomes, lock classes)."""
    if isinstance(x, list):
        return tuple(_freeze(y) for y in x)
    return x
