"""What one step touched: the World's side of :mod:`checker.memory`.

The World installs a :class:`StepRecorder` while task code runs (the
continuation after an action, and callbacks such as a put's ``on_free``).
Every access to shared memory lands in :meth:`StepRecorder.touch`, which

* adds the location to the step's footprint (merged into ``Event.fps`` when
  the step ends), and a read of its owner's lifetime;
* notes a use of memory whose owner is freed (``Event.dead``, reported by
  ``no-free-while-mapped``);
* notes a continuation access the step's action did not declare
  (``Event.plain``: the accesses whose atomicity with the action
  ``data-race`` checks).

Before a task's first action nothing may be touched: that code runs while the
World is being built, before any other task could run, so a read there would
not be ordered with anything.
"""

from __future__ import annotations

import os
import sys

from . import actions as A
from .errors import ModelError
from .memory import MarkedLabel

_PREFIX, _ACTION, _CONT = 0, 1, 2
_R, _W = A.R, A.W
_merge = A.merge

_HERE = os.path.dirname(os.path.abspath(__file__))
_ENGINE_FILES = frozenset(os.path.join(_HERE, f) for f in ("memory.py", "objects.py", "recorder.py"))


def where() -> str:
    """The task-code function making the current access (the first frame outside the engine)."""
    f = sys._getframe(2)
    while f is not None and f.f_code.co_filename in _ENGINE_FILES:
        f = f.f_back
    return f.f_code.co_name if f is not None else "?"


def innermost(gen) -> str:
    """The kernel function a task's generator is suspended in (the yielded action's)."""
    while True:
        inner = getattr(gen, "gi_yieldfrom", None)
        if inner is None or not hasattr(inner, "gi_code"):
            return gen.gi_code.co_name if hasattr(gen, "gi_code") else "?"
        gen = inner


class StepRecorder:
    """Collects the plain accesses of the running step (one per World)."""

    __slots__ = ("phase", "ev", "task", "name", "mark", "plain", "action", "uncovered", "dead", "fresh",
                 "conversions", "gen", "any_late", "coverage", "ops", "gens", "cont_touched")

    def __init__(self):
        self.phase = _ACTION
        self.ev = None
        self.task = -1
        self.name = ""
        self.mark = 0
        self.plain = None
        self.action = None
        self.uncovered = None
        self.dead = None
        self.any_late = False
        self.cont_touched = False   # task code after the action touched shared memory
        self.fresh = set()
        self.conversions = []       # (plain container, its copy when stored, where), this execution
        self.gen = None
        self.coverage = set()       # what ran this execution (checker.coverage)
        self.ops = {}               # task -> families of the operations it is inside
        self.gens = None            # traced generators made by this step, with their call sites

    # -- phases (called by the World) ------------------------------------------------
    def begin(self, t, ev, prefix: bool = False) -> None:
        """A new step of task ``t`` (``ev``: its event; None with ``prefix``)."""
        self.phase = _PREFIX if prefix else _ACTION
        self.ev = ev
        self.task = t.index
        self.name = t.name
        self.gen = t.gen
        self.mark = t.uids
        self.plain = None
        self.action = None
        self.uncovered = None
        self.dead = None
        self.any_late = False
        self.cont_touched = False
        if self.fresh:
            self.fresh.clear()

    def cont(self) -> None:
        """The action is done; what follows is its continuation."""
        self.phase = _CONT

    def finish(self, ev) -> None:
        """Merge what the step touched into ``ev``'s footprint."""
        if self.conversions:
            self._check_conversions()
        if self.gens:
            self._check_generators()
        plain = self.plain
        if plain is None:
            return
        # Entries are [kind, pre, post, late]: ``late`` when only accesses after
        # the action that it did not declare touched the location.
        if ev.fps is not None:
            for o, k, pre, post in ev.fps:
                had = plain.get(o)
                if had is None:
                    plain[o] = [k, pre, post, False]
                else:
                    had[0] = _merge(k, had[0])
                    had[1], had[2], had[3] = pre, post, False
        elif ev.kind:
            o = ev.obj
            had = plain.get(o)
            if had is None:
                plain[o] = [ev.kind, ev.pre, ev.post, False]
            else:
                had[0] = _merge(ev.kind, had[0])
                had[1], had[2], had[3] = ev.pre, ev.post, False
        ev.fps = tuple((o, e[0], e[1], e[2]) for o, e in plain.items())
        if self.any_late:
            ev.late = frozenset(o for o, e in plain.items() if e[3])
        if self.uncovered:
            ev.plain = tuple(self.uncovered)
        if self.dead:
            ev.dead = tuple(self.dead)

    # -- from checker.coverage ----------------------------------------------------------
    def enter_op(self, task, family) -> None:
        for u, fams in self.ops.items():
            if u != task:
                for g in fams:
                    self.coverage.add("pair:" + "+".join(sorted((family, g))))
        self.ops.setdefault(task, []).append(family)

    def leave_op(self, task, family) -> None:
        fams = self.ops.get(task)
        if fams and family in fams:
            fams.remove(family)

    def made_generator(self, gen, name, code, line) -> None:
        if self.gens is None:
            self.gens = []
        self.gens.append((gen, name, code, line))

    def _check_generators(self) -> None:
        gens, self.gens = self.gens, None
        for gen, name, code, line in gens:
            if not gen.gi_running and not gen.gi_suspended and gen.gi_frame is not None:
                gen.close()
                raise ModelError(
                    f"{name}() was called in {code.co_name} ({os.path.basename(code.co_filename)}:"
                    f"{line}) but its generator never ran; a kernel function is a generator: "
                    f"write `yield from self.{name}(...)`")

    # -- from checker.memory and checker.objects ---------------------------------------
    def converted(self, original, copy, where_) -> None:
        """A plain container was stored in shared memory as a copy; the original
        must stay as it was (a change through it would be invisible)."""
        self.conversions.append((original, type(original)(original), where_, self.name, where()))

    def _check_conversions(self) -> None:
        for original, snap, label, task, fn in self.conversions:
            if original != snap:
                raise ModelError(
                    f"task {task} stored a plain {type(original).__name__} in {label} ({fn}) and "
                    f"changed it afterwards through another reference, which the engine cannot "
                    f"see; build a checker.SharedList/SharedDict, store it, and change that one")

    def made(self, inst) -> None:
        self.fresh.add(id(inst))

    def is_fresh(self, inst) -> bool:
        return id(inst) in self.fresh

    def _new(self, uid) -> bool:
        """Whether ``uid`` names an object this task created in this step."""
        return type(uid) is tuple and uid[0] == self.task and uid[1] > self.mark

    def touch_owner(self, owner, label) -> None:
        """The action uses an object embedded in ``owner`` (a page's lock): it reads
        whether ``owner`` is alive."""
        plain = self.plain
        if plain is None:
            plain = self.plain = {}
        if owner.pin_uid not in plain:
            plain[owner.pin_uid] = [_R, None, None, False]
        if not owner.alive:
            self._dead(owner, label, _R)

    def touch(self, owner, key, kind, label) -> None:
        """Task code accesses ``key`` (``(uid, field)``) of memory that lives in ``owner``."""
        base = owner.uid if owner is not None else key[0]
        phase = self.phase
        new = type(base) is tuple and base[0] == self.task and base[1] > self.mark
        if phase == _PREFIX and not new:
            raise ModelError(f"task {self.name} touches {label} in {where()} before its first "
                             f"yield; a task's first step must be an action (yield label(...) first)")
        plain = self.plain
        if plain is None:
            plain = self.plain = {}
        if phase == _CONT:
            self.cont_touched = True
        # Where it stands: at the action (it declared the owner, or this is the
        # action's own callback, or the object is this step's), or after it.
        late = phase == _CONT and not new and not self._covered(base, kind)
        had = plain.get(key)
        if had is None:
            plain[key] = [kind, None, None, late]
        else:
            if had[0] != kind:
                had[0] = _merge(had[0], kind)
            if not late:
                had[3] = False
        if owner is not None:
            if not owner.alive:
                self._dead(owner, label, kind)
            if late and not owner.permanent:
                # Undeclared: it must read the owner's lifetime itself (a declared
                # access of the owner already conflicts with its free).
                ou = owner.pin_uid
                if ou not in plain:
                    plain[ou] = [_R, None, None, True]
        if late:
            self.any_late = True
            if type(label) is not MarkedLabel:
                self._uncovered(key, kind, label)

    def touch_shared(self, obj, kind, state) -> None:
        """Task code reads an engine object's state (``v.value``, ``lock.writer``)."""
        uid = obj.uid
        new = type(uid) is tuple and uid[0] == self.task and uid[1] > self.mark
        if self.phase == _PREFIX and not new:
            raise ModelError(f"task {self.name} reads {obj.name} in {where()} before its first "
                             f"yield; a task's first step must be an action (yield label(...) first)")
        plain = self.plain
        if plain is None:
            plain = self.plain = {}
        if self.phase == _CONT:
            self.cont_touched = True
        late = self.phase == _CONT and not new and not self._covered(uid, kind)
        if obj.owner is not None:
            owner = obj.owner
            if not owner.alive:
                self._dead(owner, obj.name, kind)
            if late and owner.pin_uid not in plain:
                plain[owner.pin_uid] = [_R, None, None, True]
        had = plain.get(uid)
        if had is None:
            plain[uid] = [kind, state, state, late]
        else:
            if had[0] != kind:
                had[0] = _merge(had[0], kind)
            if not late:
                had[3] = False
        if late:
            self.any_late = True
            self._uncovered(uid, kind, obj.name)

    # -- helpers -----------------------------------------------------------------------
    def _covered(self, base, kind) -> bool:
        """Whether the step's action declared ``base`` (for a write: as a write)."""
        act = self.action
        if act is None:
            act = self.action = _action_footprint(self.ev)
        k = act.get(base)
        if k is None:
            return False
        return kind == _R or k == _W

    def _uncovered(self, key, kind, label) -> None:
        if self.uncovered is None:
            self.uncovered = []
        self.uncovered.append((key, kind, label, where()))

    def _dead(self, owner, label, kind) -> None:
        if self.dead is None:
            self.dead = []
        # The action itself (a lock operation): the function that yielded it.
        fn = innermost(self.gen) if self.phase == _ACTION else where()
        self.dead.append((owner, label, kind, fn))


def _action_footprint(ev) -> dict:
    """``{uid: kind}`` of what ``ev``'s action itself touched."""
    if ev.fps is not None:
        return {o: k for o, k, _, _ in ev.fps}
    if ev.kind:
        return {ev.obj: ev.kind}
    return {}
