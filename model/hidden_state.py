"""State a variant keeps where the engine cannot see it: refused, not trusted.

The engine sees the pool's structures (``shared_struct`` fields, ``SharedList``,
``SharedDict``, ``Var``, locks): every access to them is in a step's footprint
or checked by the race detector.  A module global, a class attribute or a
variable of an enclosing function is seen by no one: two tasks that share it
through it are taken as independent by dpor (a pass the search did not earn),
and since every execution builds a fresh pool but not a fresh module, the
next execution starts from what the last one left (a trace that replays
differently).  docs/model.md said so ("What it cannot verify"); this module
checks it, twice:

* :func:`check_code`, when a variant is loaded or first built: the functions
  it defines (its classes' methods and the functions of its module, nested
  code included) must not assign or delete a module global, assign an
  attribute of a class or module (``Klass.n = 1``, ``type(self).n += 1``,
  ``self.__class__.n``), assign a variable of an enclosing function, or touch
  a module-level mutable container (a list, dict, set or bytearray: a table
  that is only read should be a tuple, a frozenset or a MappingProxyType).
* :class:`Fingerprint`, on every build (each execution builds its program
  anew): the module globals and class attributes of the variant's own
  modules and classes, containers by content, must be what they were at the
  first build.  It catches what the bytecode test cannot see (an alias, a
  helper module, ``setattr``); a change undone within one execution is only
  caught by the first check.

The way out is the pool's ``extra`` (``self.pool.extra``, a ``SharedDict``):
state a patch adds (a static variable, a new field, keyed by the zspage's name
for a per-zspage one) is shared memory there, seen and race-checked.
"""

from __future__ import annotations

import array
import collections
import dis
import enum
import inspect
import os
import sys
import types

from checker.errors import ModelError, UsageError

_MODEL_DIR = os.path.dirname(os.path.abspath(__file__))
_MUTABLE = (list, dict, set, bytearray, collections.deque, array.array)
_MUTATING = frozenset({"append", "extend", "insert", "pop", "popitem", "remove", "clear", "update",
                       "setdefault", "add", "discard", "sort", "reverse", "__setitem__",
                       "__delitem__", "difference_update", "intersection_update",
                       "symmetric_difference_update"})
_SIMPLE_LOADS = frozenset({"LOAD_CONST", "LOAD_FAST", "LOAD_GLOBAL", "LOAD_DEREF", "LOAD_NAME"})
_HOW = ("state outside the pool is invisible to the engine (no task's access to it is ordered, "
        "and each execution starts from what the last one left); keep it in self.pool.extra, "
        "a shared dict the engine sees")
_CHECKED: dict = {}
_PRINTS: dict = {}
_REACHED: dict = {}


def own_classes(variant: type) -> list:
    """The classes of ``variant``'s MRO above its built-in version (the user's code)."""
    from model.registry import base_version
    base = base_version(variant)
    out = []
    for klass in variant.__mro__:
        if klass is base or issubclass(base, klass):
            break
        if not getattr(klass, "__zsmc_base__", None):       # model.coverage's instrumented subclass
            out.append(klass)
    return out


_CHECKER_DIR = os.path.join(os.path.dirname(_MODEL_DIR), "checker")
_SYSTEM = tuple({os.path.abspath(p) + os.sep for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})


def _is_user_code(fn_or_mod) -> bool:
    """Written by the variant's author: not the built-in model (its mutations are
    variants too), not the engine, not Python's or an installed package's."""
    f = getattr(fn_or_mod, "__file__", None) or getattr(getattr(fn_or_mod, "__code__", None),
                                                        "co_filename", None)
    if not f or f.startswith("<"):
        return isinstance(fn_or_mod, types.FunctionType)       # typed at a prompt, exec'd
    f = os.path.abspath(f)
    if f.startswith(_CHECKER_DIR + os.sep) or f.startswith(_SYSTEM):
        return False
    return not f.startswith(_MODEL_DIR + os.sep) or f.startswith(os.path.join(_MODEL_DIR, "mutations"))


class _Reach:
    """The user's functions the variant's methods reach (through global names and the
    attributes of user modules), and the global names they read: ``(label, namespace, name)``."""

    def __init__(self, classes):
        self.functions = []          # (where, function)
        self.globals = {}            # label -> (namespace dict, name)
        seen = set()
        todo = [(f"{klass.__name__}.{name}", fn) for klass in classes
                for name, attr in vars(klass).items() for fn in _unwrap(attr)]
        while todo:
            where, fn = todo.pop(0)
            if id(fn) in seen or not _is_user_code(fn):
                continue
            seen.add(id(fn))
            self.functions.append((where, fn))
            todo.extend(self._follow(fn.__code__, fn.__globals__))

    def _follow(self, code, ns):
        out = []
        ins = list(_instructions(code))
        for k, i in enumerate(ins):
            if i.opname != "LOAD_GLOBAL" or i.argval not in ns:
                continue
            value = ns[i.argval]
            if isinstance(value, types.ModuleType):
                if not _is_user_code(value):
                    continue
                nxt = ins[k + 1] if k + 1 < len(ins) else None
                if nxt is not None and nxt.opname in ("LOAD_ATTR", "LOAD_METHOD"):
                    attr = vars(value).get(nxt.argval)
                    self.globals[f"module global {nxt.argval} of {os.path.basename(value.__file__)}"] = \
                        (vars(value), nxt.argval)
                    out.extend((nxt.argval, f) for f in _unwrap(attr))
                continue
            if isinstance(value, types.FunctionType):
                out.append((value.__name__, value))
            elif not isinstance(value, type):
                where = os.path.basename(ns.get("__file__") or ns.get("__name__") or "?")
                self.globals[f"module global {i.argval} of {where}"] = (ns, i.argval)
        for c in code.co_consts:
            if isinstance(c, types.CodeType):
                out.extend(self._follow(c, ns))
        return out


def _reach(variant: type) -> _Reach:
    """What ``variant``'s own code reaches (cached: the code check and the fingerprint
    read the same)."""
    r = _REACHED.get(variant)
    if r is None:
        r = _REACHED[variant] = _Reach(own_classes(variant))
    return r


def _unwrap(attr):
    """The plain functions behind a class attribute (a method, a static or class method,
    a property's accessors)."""
    if isinstance(attr, (staticmethod, classmethod)):
        attr = attr.__func__
    if isinstance(attr, property):
        return [f for f in (attr.fget, attr.fset, attr.fdel) if f is not None]
    fn = inspect.unwrap(attr) if callable(attr) else None
    return [fn] if isinstance(fn, types.FunctionType) else []


def _instructions(code):
    return (i for i in dis.get_instructions(code)
            if i.opname not in ("CACHE", "PRECALL", "PUSH_NULL", "EXTENDED_ARG"))


def check_code(variant: type, spec: str | None = None) -> None:
    """Refuse (UsageError, one line) a variant whose own code keeps state outside the pool."""
    if variant in _CHECKED:
        return
    for where, fn in _reach(variant).functions:
        problem = _first_problem(fn.__code__, fn.__globals__)
        kept = _kept_across_calls(fn)
        if problem is None and kept is not None:
            problem = (fn.__code__.co_firstlineno,
                       f"keeps a {type(kept[1]).__name__} in {kept[0]} from call to call (a C static)")
        if problem is not None:
            line, what = problem
            at = f"{os.path.basename(fn.__code__.co_filename)}:{line}"
            name = spec or variant.__name__
            raise UsageError(f"variant {name!r}: {where} ({at}) {what}: {_HOW}")
    _CHECKED[variant] = True


def _first_problem(code, globals_):
    """``(line, what)`` of the first hidden-state write in ``code`` (nested code too), or None."""
    ins = list(_instructions(code))
    line = code.co_firstlineno
    for k, i in enumerate(ins):
        if i.starts_line is not None:
            line = i.starts_line
        what = _problem_at(ins, k, code, globals_)
        if what is not None:
            return line, what
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            found = _first_problem(c, globals_)
            if found is not None:
                return found
    return None


def _problem_at(ins, k, code, globals_):
    i = ins[k]
    op = i.opname
    if op in ("STORE_GLOBAL", "DELETE_GLOBAL"):
        return f"{'assigns' if op == 'STORE_GLOBAL' else 'deletes'} module global {i.argval}"
    if op == "STORE_DEREF" and i.argval in code.co_freevars:
        return f"assigns {i.argval}, a variable of an enclosing function"
    if op == "LOAD_GLOBAL":
        value = globals_.get(i.argval)
        if isinstance(value, _MUTABLE):
            return (f"uses module-level {type(value).__name__} {i.argval} (a constant table "
                    f"should be a tuple, frozenset or types.MappingProxyType)")
        return None
    if op in ("STORE_ATTR", "DELETE_ATTR"):
        target = _attribute_owner(ins, k)
        if target is None:
            return None
        if target == "__class__":
            return f"assigns attribute {i.argval} of its class"
        if target not in globals_:
            return None
        value = globals_[target]
        kind = ("class" if isinstance(value, type) else "module" if isinstance(value, types.ModuleType)
                else f"module-level {type(value).__name__}")
        return f"assigns attribute {i.argval} of {kind} {target}"
    return None


def _kept_across_calls(fn):
    """``(what, value)`` of the first mutable value ``fn`` keeps from call to call (a
    default argument, a variable of an enclosing function that has returned), or None."""
    code = fn.__code__
    names = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
    defaults = fn.__defaults__ or ()
    kept = [(f"default argument {n}", v)
            for n, v in zip(names[code.co_argcount - len(defaults):code.co_argcount], defaults)]
    kept += [(f"default argument {n}", v) for n, v in (fn.__kwdefaults__ or {}).items()]
    kept += [(f"closure variable {n}", c.cell_contents)
             for n, c in zip(code.co_freevars, fn.__closure__ or ()) if _cell_full(c)]
    for what, v in kept:
        if _mutable(v):
            return what, v
    return None


def _cell_full(cell) -> bool:
    try:
        _ = cell.cell_contents      # an empty cell raises
    except ValueError:
        return False
    return True


def _mutable(v) -> bool:
    """A container, or an object whose attributes can change (not a function, a class, a
    module, an enum member, a frozen dataclass or a shared object the engine sees)."""
    if isinstance(v, _MUTABLE):
        return True
    t = type(v)
    if isinstance(v, (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
                      types.MethodType, staticmethod, classmethod, property)):
        return False
    if getattr(t, "__zsmc_shared__", False) or isinstance(v, enum.Enum):
        return False
    params = getattr(t, "__dataclass_params__", None)
    if params is not None and params.frozen:
        return False
    return hasattr(v, "__dict__") and t.__module__ != "builtins"     # SimpleNamespace too ("types")


def _attribute_owner(ins, k):
    """What the object of the STORE_ATTR at ``k`` was loaded as: a global's name,
    ``"__class__"`` (``self.__class__``, ``type(x)``), or None (anything else)."""
    j = k - 1
    if j >= 0 and ins[j].opname == "SWAP":          # x.a op= v: LOAD x; COPY 1; LOAD_ATTR a ...
        while j >= 0 and not (ins[j].opname == "COPY" and ins[j].argval == 1):
            j -= 1
        j -= 1
    if j < 0:
        return None
    src = ins[j]
    if src.opname == "LOAD_GLOBAL":
        return src.argval
    if src.opname in ("LOAD_ATTR", "LOAD_METHOD") and src.argval == "__class__":
        return "__class__"
    if src.opname == "CALL":
        # type(x): LOAD_GLOBAL type; <one simple load>; CALL 1
        if j >= 2 and ins[j - 2].opname == "LOAD_GLOBAL" and ins[j - 2].argval == "type" \
                and ins[j - 1].opname in _SIMPLE_LOADS:
            return "__class__"
    return None


def check_build(variant: type) -> None:
    """Before each build of ``variant``'s program: its code once, its fingerprint each time."""
    check_code(variant)
    fingerprint(variant).check()


def fingerprint(variant: type) -> Fingerprint:
    """The :class:`Fingerprint` of ``variant``, taken at its first build in this process."""
    fp = _PRINTS.get(variant)
    if fp is None:
        fp = _PRINTS[variant] = Fingerprint(variant)
    return fp


class Fingerprint:
    """The global names the variant's code reads and its own classes' attributes,
    containers by content: :meth:`check` raises ModelError naming the first that
    changed since it was taken."""

    __slots__ = ("classes", "globals", "first")

    def __init__(self, variant: type):
        self.classes = own_classes(variant)
        self.globals = _reach(variant).globals
        self.first = self._take()

    def _take(self) -> dict:
        missing = object()
        out = {label: _print(ns.get(name, missing)) for label, (ns, name) in self.globals.items()}
        for klass in self.classes:
            for name, value in vars(klass).items():
                if not name.startswith("__"):
                    out[f"attribute {name} of class {klass.__name__}"] = _print(value)
        return out

    def check(self) -> None:
        now = self._take()
        if now == self.first:
            return
        changed = next(k for k in sorted(set(now) | set(self.first)) if now.get(k) != self.first.get(k))
        raise ModelError(f"the variant's {changed} changed during an execution: {_HOW}")


def _print(value, depth=0):
    """A value's identity, and a mutable container's contents or a mutable object's
    attributes (two levels deep)."""
    if isinstance(value, _MUTABLE) and depth < 2:
        try:
            if isinstance(value, dict):
                items = [repr((repr(k), _print(v, depth + 1))) for k, v in value.items()]
            else:
                items = [repr(_print(x, depth + 1)) for x in value]
        except RuntimeError:            # changed while read: another thread's; not ours to judge
            return (id(value),)
        return (id(value), type(value).__name__, tuple(sorted(items)))
    if depth < 2 and hasattr(value, "__dict__") and _mutable(value):
        # An object's attributes can hold state as a container's items can.
        try:
            items = [repr((k, _print(v, depth + 1))) for k, v in vars(value).items()]
        except RuntimeError:
            return (id(value),)
        return (id(value), type(value).__name__, tuple(sorted(items)))
    return id(value)
