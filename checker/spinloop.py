"""Spin loops written as plain re-reads: recognised and turned into waits.

A kernel writer that waits for readers with ``while (atomic_read(&cnt))
cpu_relax();`` shows up in a model as a task that reads a variable again and
again.  Left alone, every re-read is a step and the task never ends while the
value stays put: the search explodes, and the wait is invisible to the
properties that forbid waiting.  GenMC and loom treat such loops specially;
so does the World: a task that is about to read a variable it has just read,
from the same program point with the same local state, with only invisible
steps in between and the value unchanged, would repeat exactly what it did
(nothing else can change: no side effect, the same locals, the same shared
value).  Instead of repeating, it waits: its read becomes
``spin_until(value != what it saw)``, which is what ``spin_until`` is for
(the engine keeps the CPU as a spinning task does, and ``writers-never-block``
and ``deadlock`` see the wait).  No behaviour is lost: an iteration that
reads the same value in the same state only leads to the same next state.

The comparison of "the same state" covers every frame of the task's
generator (program point and locals), the attributes of the objects its
frames hold as locals (a task's version object, say, one level deep, in its
``__dict__`` or its slots) and what a frame holds across its yield outside
its locals (a ``for`` loop's iterator, by its position): a retry loop that
counts its attempts in a local, an attribute or an iterator is not a spin
loop and is left alone. A module global or an object two levels down is not
compared: model state belongs in shared variables, which the engine sees.
"""

from __future__ import annotations

import gc
import types

from . import actions as A

# Steps that leave the task's view of shared memory alone: a spin loop's
# iterations may contain them (``cpu_relax()`` is a label).
_QUIET = frozenset({A.LABEL, A.MIGHT_SLEEP, A.COND_RESCHED})


def _ne(seen):
    return lambda v: v != seen


def _freeze(v):
    if type(v) in (list, set):
        return ("#list", tuple(v))
    if type(v) is dict:
        return ("#dict", tuple(v.items()))
    return v


def _attributes(v):
    """``v``'s own attributes, one level deep, or None for a value compared as is."""
    if callable(v):
        return None
    d = getattr(v, "__dict__", None)
    # The engine's own objects (the recorder a coverage wrapper holds, a
    # shared variable) change with every step; what they share is watched.
    slots = () if type(v).__module__.startswith(_ENGINE) else _slots(type(v))
    if d is None and not slots:
        return None
    items = list(d.items()) if d is not None else []
    items += [(name, getattr(v, name)) for name in slots if hasattr(v, name)]
    return tuple((a, _freeze(x)) for a, x in items)


def _slots(cls) -> tuple:
    found = _SLOTS.get(cls)
    if found is None:
        names = []
        for c in cls.__mro__:
            s = c.__dict__.get("__slots__", ())
            names += [s] if isinstance(s, str) else [n for n in s if n != "__dict__" and n != "__weakref__"]
        found = _SLOTS[cls] = tuple(names)
    return found


_SLOTS: dict = {}
_ENGINE = __name__.rpartition(".")[0] + "."


def _hidden(gen, local: dict) -> tuple:
    """What a frame keeps live across its yield outside its locals: a ``for``
    loop's iterator, a ``with``'s exit, a half-evaluated expression. A ``for``
    over equal values (``[None] * 3``, ``itertools.repeat``) binds the same
    local each time, so only the iterator's position tells two iterations
    apart; the garbage collector's view of the generator shows it (``local``:
    the frame's locals, read once by the caller: each read of ``f_locals``
    copies them)."""
    known = {id(v) for v in local.values()}
    known.add(id(local))
    out = []
    for v in gc.get_referents(gen):
        if id(v) in known or type(v) in _FRAME_PARTS:
            continue
        out.append(_value(v))
    return tuple(out)


def _value(v):
    """``v`` as compared: an iterator by its position, an object with its
    attributes one level deep, anything else as is."""
    if hasattr(type(v), "__next__") and not isinstance(v, types.GeneratorType):
        try:
            return ("#iter", _freeze(v.__reduce__()))
        except Exception:  # noqa: BLE001  (a position that cannot be read: never equal)
            return object()
    attrs = _attributes(v)
    if attrs is not None:
        return (v, attrs)
    return _freeze(v)


# A generator refers to these itself (its function, name, qualified name, the
# generator it delegates to, which the walk compares frame by frame).
# (and, once its frame was looked at, the frame, its locals and their cells).
_FRAME_PARTS = (types.FunctionType, str, types.GeneratorType, types.CodeType,
                types.FrameType, types.CellType)


def snapshot(gen) -> tuple:
    """The task's local state: each frame's code, position, locals and the
    values it holds across the yield."""
    out = []
    while gen is not None and hasattr(gen, "gi_frame"):
        f = gen.gi_frame
        if f is None:
            break
        local = f.f_locals
        out.append((f.f_code, f.f_lasti, tuple((k, _value(v)) for k, v in local.items()),
                    _hidden(gen, local)))
        gen = gen.gi_yieldfrom
    return tuple(out)


def same(a, b) -> bool:
    try:
        return a == b
    except Exception:  # noqa: BLE001  (a local that cannot be compared: not a spin)
        return False


def after_step(t, ev, touched_plain: bool) -> None:
    """Keep or forget ``t``'s spin mark after its step ``ev``."""
    mark = t.spin
    if mark is None:
        return
    op = ev.action.op
    if op == A.READ and ev.action.obj.uid == mark[0] and mark[2] is None and not touched_plain:
        t.spin = (mark[0], mark[1], (ev.result,))
    elif op not in _QUIET or touched_plain:
        t.spin = None


def on_pending(t, action):
    """``action`` as the task should perform it: a repeated read that would change
    nothing becomes a wait for the value to change."""
    if action.op != A.READ:
        return action
    var = action.obj
    mark = t.spin
    if mark is not None and mark[0] == var.uid and mark[2] is not None and mark[2][0] == var._value:
        state = snapshot(t.gen)
        if same(state, mark[1]):
            return A.Action(A.SPIN, var, _ne(mark[2][0]), order=action.order)
        t.spin = (var.uid, state, None)
        return action
    t.spin = (var.uid, snapshot(t.gen), None)
    return action
