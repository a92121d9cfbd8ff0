"""Spin loops written as plain re-reads: recognised and turned into waits.

A kernel writer that waits for readers with ``while (atomic_read(&cnt))
cpu_relax();`` shows up in a model as a task that reads a variable again and
again.  Left alone, every re-read is a step and the task never ends while the
value stays put: the search explodes, and the wait is invisible to the
properties that forbid waiting.  GenMC and loom treat such loops specially;
so does the World: a task that is about to read a variable it has just read,
from the same program point with the same local state, with only invisible
steps in between, would repeat exactly what it did while the value stays what
it saw (no side effect, the same locals).  Instead of repeating, it waits: its
read becomes ``spin_until(value != what it saw)``, which is what ``spin_until`` is for
(the engine keeps the CPU as a spinning task does, and ``writers-never-block``
and ``deadlock`` see the wait).  No behaviour is lost: an iteration that
reads the same value in the same state only leads to the same next state.
The value the variable holds now is not consulted: it is no part of the
task's last step, so a choice resting on it would differ between two orders
of independent steps; a wait whose value changed already is enabled at once.

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

import dis
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


def state(gen):
    """:func:`snapshot`, or :data:`_ONCE` when no later state of the task can
    equal this one, found from the frames' positions instead of their locals.

    Two equal snapshots need every frame at the same position twice. The
    deepest frame that stayed the same object (``t.gen`` does) then passed
    its position twice, so it went round a loop of its own code that
    encloses that position: a backward jump whose range covers it. If every
    such jump is a ``for`` loop's (it goes to ``FOR_ITER``) and the frame's
    iterators are of the kinds compared by a position that only moves on
    (:data:`_MONOTONE`), the outermost loop taken kept its iterator and
    advanced it, which the snapshot compares: the state cannot recur.
    """
    g = gen
    while True:
        f = getattr(g, "gi_frame", None)
        if f is None:
            return snapshot(gen)    # not a plain generator chain: compare in full
        loops = _enclosing(f.f_code, f.f_lasti)
        if loops is _WHILE or (loops is _FOR and not _monotone(g)):
            return snapshot(gen)
        g = g.gi_yieldfrom
        if g is None:
            return _ONCE


# A state no later state equals (``same`` against it is False).
_ONCE = object()
_WHILE = "while"    # some loop enclosing the position may come round unchanged
_FOR = "for"        # only ``for`` loops enclose it


def _monotone(g) -> bool:
    """Whether every iterator ``g``'s frame holds (but its delegate) moves on."""
    inner = g.gi_yieldfrom
    for v in gc.get_referents(g):
        if v is not inner and hasattr(type(v), "__next__") and type(v) not in _MONOTONE:
            return False
    return True


# Iterators whose ``__reduce__`` (what ``_value`` compares) changes at every
# step: an index that grows, or the list of what is left, which shrinks.
_MONOTONE = frozenset(type(iter(x)) for x in (
    range(0), range(1 << 70), [], (), {}, {}.values(), {}.items(), set(), "", b""))


def _enclosing(code, lasti):
    """None, :data:`_FOR` or :data:`_WHILE`: the loops around ``lasti``."""
    key = (code, lasti)
    found = _ENCLOSING.get(key, _ENCLOSING)
    if found is _ENCLOSING:
        found = None
        for lo, hi, kind in _loops(code):
            if lo <= lasti <= hi and found is not _WHILE:
                found = kind
        _ENCLOSING[key] = found
    return found


def _loops(code) -> tuple:
    """``code``'s backward jumps as (target, source, kind) offset ranges, but
    the one each ``yield from`` makes to resume its delegate (it stays in the
    same delegation, never reaching its position anew)."""
    found = _LOOPS.get(code)
    if found is None:
        ins = list(dis.get_instructions(code))
        name_at = {}
        for i in reversed(ins):     # a jump to an EXTENDED_ARG lands on what it extends
            name_at[i.offset] = name_at[i.offset + 2] if i.opname == "EXTENDED_ARG" else i.opname
        found = _LOOPS[code] = tuple(
            (i.argval, i.offset, _FOR if name_at.get(i.argval) == "FOR_ITER" else _WHILE)
            for i in ins
            if i.opcode in _JUMPS and isinstance(i.argval, int) and i.argval <= i.offset
            and not (i.opname == "JUMP_BACKWARD_NO_INTERRUPT" and name_at.get(i.argval) == "SEND"))
    return found


_JUMPS = frozenset(dis.hasjrel) | frozenset(dis.hasjabs)
_LOOPS: dict = {}
_ENCLOSING: dict = {}


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
    if mark is not None and mark[0] == var.uid and mark[2] is not None:
        now = state(t.gen)
        if now is not _ONCE and same(now, mark[1]):
            return A.Action(A.SPIN, var, _ne(mark[2][0]), order=action.order)
        t.spin = (var.uid, now, None)
        return action
    t.spin = (var.uid, state(t.gen), None)
    return action
