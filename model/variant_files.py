"""Loading a user's variant (``FILE.py:CLASS`` or ``package.module:CLASS``), and what a
trace records to load it again.

The rules (docs/cli.md, "Trust"):

* A variant file's directory is importable while it is checked, replayed or
  minimised (first on ``sys.path``, as ``python FILE.py`` would have it), so a
  review series can keep shared helpers next to its revisions; for a module
  spec the working directory is importable (last on ``sys.path``, as with
  ``python -m``).
* What was loaded is recorded (:func:`record`): the absolute path, the class,
  and the SHA-256 of the file and of every module it imported from its own
  directory.  A trace carries that record in its program's parameters, so it
  can be found again from any working directory, and a changed or different
  file is refused instead of silently run (:func:`locate`).
* Loading is the only place user code runs at import; a ``SystemExit`` (or any
  ``BaseException`` but Ctrl-C) raised there is the variant's error, one line.
  So is a ``KeyboardInterrupt`` the file raises itself (a real Ctrl-C meanwhile
  raises zsmc's own kind), and a change of the interpreter's settings zsmc's own
  code depends on (``sys.setrecursionlimit``), which is undone.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import os
import signal
import sys
import threading

from checker import UsageError
from checker.budget import Expired

_RECORDS: dict = {}      # module object -> record of what was loaded
# Modules a variant file imported from its own folder (``import common``): name ->
# (real path, SHA-256 when imported).  Not zsmc's own packages, which a file at the
# project's root may import for the first time.
_SIBLINGS: dict = {}
_OWN = ("checker", "model", "properties", "cli", "pytest_zsmc")


def is_path(where: str) -> bool:
    """Whether the left part of a variant spec names a file (else a module)."""
    return where.endswith(".py") or os.sep in where or "/" in where


def sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def load_file(path: str):
    """Import ``path`` as a module (its directory importable); returns the module."""
    if os.path.isdir(path):
        raise UsageError(f"variant file {path} is a directory: name the .py file")
    if not os.path.isfile(path):
        raise UsageError(f"variant file {path} not found")
    full = os.path.realpath(path)
    try:
        full.encode("utf-8")
    except UnicodeEncodeError:
        # A trace records the file's path in JSON, which holds text only: the trace of a
        # violation could not be written (a zsmc bug, exit 4, after the whole search).
        raise UsageError(f"variant file {os.fsdecode(path)!a}: its path is not UTF-8 text, which "
                         f"a trace cannot record; rename the file (or its folder)") from None
    folder = os.path.dirname(full)
    modname = "zsmc_variant_" + hashlib.sha1(full.encode()).hexdigest()[:12]
    old = sys.modules.get(modname)
    rec = _RECORDS.get(old, {}) if old is not None else {}
    if old is not None and rec.get("sha256") == sha256(full) and _unchanged(rec.get("imports"), folder):
        return old          # loaded before in this process, and unchanged since (helpers too)
    spec = importlib.util.spec_from_file_location(modname, full)
    if spec is None or spec.loader is None:
        raise UsageError(f"variant file {path} is not a Python module")
    # This file's folder first, and no helper another folder's variant (or an older
    # version of this folder's) imported under the same name: in one process (the pytest
    # plugin, a script), rev2/patch.py's `import common` got rev1/common.py, a cached
    # module, and rev2 was checked with rev1's helpers (a broken revision passed).
    if folder in sys.path:
        sys.path.remove(folder)
    sys.path.insert(0, folder)
    _forget_stale_siblings(folder)
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    before = set(sys.modules)
    _exec(spec, module, f"variant file {path}", modname)
    _RECORDS[module] = {"path": full, "sha256": sha256(full),
                        "imports": _siblings(folder, before)}
    return module


def _unchanged(imports, folder: str) -> bool:
    """Whether each helper a loaded variant imported from ``folder`` is still as it was."""
    for rel, digest in (imports or {}).items():
        f = os.path.join(folder, rel)
        if not os.path.isfile(f) or sha256(f) != digest:
            return False
    return True


def _forget_stale_siblings(folder: str) -> None:
    """Drop from ``sys.modules`` the helpers variant files imported that ``folder``'s
    variant must not reuse: those of another folder, and those changed since."""
    for name, (path, digest) in list(_SIBLINGS.items()):
        mod = sys.modules.get(name)
        if mod is None or _real_file(mod) != path:
            del _SIBLINGS[name]             # gone, or replaced by someone else: not ours
            continue
        inside = os.path.dirname(path) == folder or path.startswith(folder + os.sep)
        if not inside or not os.path.isfile(path) or sha256(path) != digest:
            del sys.modules[name]
            del _SIBLINGS[name]


def _real_file(module):
    f = getattr(module, "__file__", None)
    return os.path.realpath(f) if isinstance(f, str) else None


def load_module(name: str):
    """Import the module ``name`` (the working directory importable, after everything else)."""
    here = os.getcwd()
    if here not in sys.path:
        sys.path.append(here)
    if name in sys.modules:
        module = sys.modules[name]
    else:
        try:
            spec = importlib.util.find_spec(name)
        except Exception as exc:  # noqa: BLE001 - a parent package failed to import
            raise UsageError(f"cannot import variant module {name}: {type(exc).__name__}: {_line(exc)}") from None
        if spec is None:
            raise UsageError(f"cannot import variant module {name}: no module of that name "
                             "(in the working directory or installed)")
        module = _import(name)
    path = getattr(module, "__file__", None)
    if module not in _RECORDS:
        _RECORDS[module] = {"module": name, "path": path and os.path.realpath(path),
                            "sha256": sha256(path) if path and os.path.isfile(path) else None}
    return module


def _import(name: str):
    before = set(sys.modules)
    try:
        with _user_code(f"cannot import variant module {name}"):
            return importlib.import_module(name)
    except BaseException:
        for m in set(sys.modules) - before:
            sys.modules.pop(m, None)
        raise


def _exec(spec, module, what: str, modname: str) -> None:
    try:
        with _user_code(f"cannot load {what}"):
            spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(modname, None)
        raise


# The interpreter's settings zsmc's own code depends on: a variant's
# sys.setrecursionlimit(50) at import made zsmc's next deep call a RecursionError,
# reported as a bug in zsmc (exit 4).  (During a check, cli.session guards the setters
# under a task's step.)
_SETTINGS = (("recursion limit", "getrecursionlimit", "setrecursionlimit"),
             ("integer string digits", "get_int_max_str_digits", "set_int_max_str_digits"),
             ("thread switch interval", "getswitchinterval", "setswitchinterval"))


def _settings() -> dict:
    return {s: getattr(sys, s[1])() for s in _SETTINGS if hasattr(sys, s[1])}


class _CtrlC(KeyboardInterrupt):
    """Ctrl-C while a variant is imported (its own ``raise KeyboardInterrupt`` is plain)."""


def _on_sigint(signum, frame):
    raise _CtrlC


@contextlib.contextmanager
def _sigint_told_apart():
    """Yields whether a plain KeyboardInterrupt is user code's own: SIGINT raises
    :class:`_CtrlC` meanwhile (when its handler is Python's default; zsmc's own
    during a search raises its own kind), and other threads never get SIGINT."""
    if threading.current_thread() is not threading.main_thread():
        yield True
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:
        yield previous is signal.SIG_IGN
        return
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield True
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _user_code(failure: str):
    """Import-time code of a variant: what it raises (``SystemExit``, its own
    ``KeyboardInterrupt``) is a UsageError, ``failure: why``, Ctrl-C stays an interrupt, and
    a setting of _SETTINGS it changed is undone and refused."""
    before = _settings()
    try:
        with _sigint_told_apart() as told:
            try:
                yield
            except _CtrlC:
                raise KeyboardInterrupt from None
            except Expired:         # the check's time limit (cli.plan): not the file's error
                raise
            except KeyboardInterrupt as exc:
                if not told or type(exc) is not KeyboardInterrupt:
                    raise
                raise UsageError(f"{failure}: it raised KeyboardInterrupt at import "
                                 "(a Ctrl-C is not a variant's to raise)") from None
            except BaseException as exc:  # noqa: BLE001 - user code: SystemExit included
                raise UsageError(f"{failure}: {type(exc).__name__}: {_line(exc)}") from None
    finally:
        changed = [(s, before[s], now) for s, now in _settings().items() if now != before[s]]
        for (_, _, setter), old, _ in changed:
            getattr(sys, setter)(old)
    if changed:
        (name, _, setter), old, now = changed[0]
        raise UsageError(f"{failure}: it changed the interpreter's {name} from {old!r} to "
                         f"{now!r} (sys.{setter}) at import; zsmc's own code depends on it: "
                         "remove the call")


def _siblings(folder: str, before: set) -> dict:
    """``{file name: sha256}`` of the modules imported from ``folder`` since ``before``."""
    out = {}
    for name in set(sys.modules) - before:
        f = getattr(sys.modules.get(name), "__file__", None)
        if not f:
            continue
        f = os.path.realpath(f)
        if os.path.dirname(f) == folder or f.startswith(folder + os.sep):
            rel = os.path.relpath(f, folder)
            if rel.endswith(".py") and os.path.isfile(f):
                out[rel] = sha256(f)
                if name.partition(".")[0] not in _OWN:
                    _SIBLINGS[name] = (f, out[rel])
    return dict(sorted(out.items()))


def record(cls, spec: str) -> dict | None:
    """What a trace stores about the variant class ``cls`` loaded from ``spec``."""
    module = sys.modules.get(cls.__module__)
    rec = _RECORDS.get(module)
    if rec is None:
        return None
    out = {"class": spec.rpartition(":")[2], **rec}
    return out


def canonical(spec: str, cls) -> str:
    """The spec with an absolute file path (a trace must load it from anywhere)."""
    where, _, name = spec.rpartition(":")
    if not is_path(where):
        return spec
    rec = record(cls, spec)
    return f"{rec['path']}:{name}" if rec else spec


def locate(rec: dict, trace_path: str) -> str:
    """The spec of the file a trace's variant record names, checked against its hashes.

    The recorded absolute path first, then the same name next to the trace;
    the file and every sibling it imported must have the recorded SHA-256.
    Nothing is executed here.
    """
    if not isinstance(rec, dict) or not isinstance(rec.get("class"), str):
        raise UsageError("the trace's variant record is malformed (no class)")
    if rec.get("module"):
        path = rec.get("path")
        if isinstance(path, str) and os.path.isfile(path):
            check_hashes(rec, path)
            # The root the module was imported from: pkg/mod.py -> the folder above pkg.
            root = os.path.dirname(path)
            for _ in rec["module"].split(".")[1:]:
                root = os.path.dirname(root)
            if os.path.basename(path) == "__init__.py":
                root = os.path.dirname(root)
            if root not in sys.path:
                sys.path.append(root)
        return f"{rec['module']}:{rec['class']}"
    path = rec.get("path")
    if not isinstance(path, str):
        raise UsageError("the trace's variant record is malformed (no path)")
    near = os.path.join(os.path.dirname(os.path.abspath(trace_path)), os.path.basename(path))
    found = next((p for p in (path, near) if os.path.isfile(p)), None)
    if found is None:
        raise UsageError(f"the trace's variant file {path} is not there, nor next to the trace "
                         f"({near}); name it with --variant FILE.py:{rec['class']}")
    check_hashes(rec, found)
    return f"{os.path.realpath(found)}:{rec['class']}"


def check_hashes(rec: dict, path: str) -> None:
    """Refuse ``path`` (or a recorded sibling) whose content is not the recorded one."""
    want = rec.get("sha256")
    if want and sha256(path) != want:
        raise UsageError(f"{path} is not the file the trace was recorded with (its SHA-256 differs); "
                         "name the file to use with --variant FILE.py:CLASS")
    folder = os.path.dirname(path)
    for rel, digest in (rec.get("imports") or {}).items():
        sib = os.path.join(folder, rel)
        if not os.path.isfile(sib) or sha256(sib) != digest:
            raise UsageError(f"{sib}, which the variant imports, is missing or has changed since "
                             "the trace was recorded; name the variant with --variant FILE.py:CLASS")


def same_source(a: dict | None, b: dict | None) -> bool:
    """Whether two records name the same content (file and siblings)."""
    if not a or not b:
        return False
    return a.get("sha256") == b.get("sha256") and (a.get("imports") or {}) == (b.get("imports") or {})


def _line(exc) -> str:
    return " ".join(str(exc).split())
