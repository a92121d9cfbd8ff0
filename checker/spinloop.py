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
generator (program point and locals) and the attributes of the objects its
frames hold as locals (a task's version object, say, one level deep): a
retry loop that counts its attempts in a local or an attribute is not a spin
loop and is left alone.
"""

from __future__ import annotations

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


def snapshot(gen) -> tuple:
    """The task's local state: each frame's code, position and locals."""
    out = []
    while gen is not None and hasattr(gen, "gi_frame"):
        f = gen.gi_frame
        if f is None:
            break
        local = []
        for k, v in f.f_locals.items():
            d = getattr(v, "__dict__", None)
            if d is not None and not callable(v):
                local.append((k, v, tuple((a, _freeze(x)) for a, x in d.items())))
            else:
                local.append((k, _freeze(v)))
        out.append((f.f_code, f.f_lasti, tuple(local)))
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
