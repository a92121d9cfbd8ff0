"""What one step touched: the World's side of :mod:`checker.memory`.

The World installs a :class:`StepRecorder` while task code runs (the
continuation after an action, and callbacks such as a put's ``on_free``).
Every access to shared memory lands in :meth:`StepRecorder.touch`, which

* notes it for the race detector (:mod:`checker.races`): its location at
  field precision, its kind, and whether it stands *at* the action (the
  action declared its object, or it is the action's own callback) or *after*
  it (a plain access the action did not declare);
* notes a use of memory whose owner is freed (``Event.dead``, reported by
  ``no-free-while-mapped``).

The search's footprint of a step is its action's: it never depends on what
the task's code did with the result, as partial-order reduction requires.  The
plain accesses are ordered by the actions around them when the program is
free of data races, which :mod:`checker.races` checks on every execution
(the CHESS argument: exploring the actions' orders is then complete).

Before a task's first action nothing may be touched: that code runs while the
World is being built, before any other task could run.
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


# A plain entry's marking when the step's writes of a declared field all stored the value
# it held: checker.races takes it for a read on sc (KCSAN's value-change rule).
_SAME = "same"
# ... when they are the reads of the free check of a put that does not free (the kernel
# runs none): checker.races judges them by the search's order only, as before stop 30,
# so that what a check the World runs on every put reads still says when the search
# missed an order (a late write of a field it reads), and is no race of the kernel's.
_CHECK = "check"


def _marked(e):
    """What checker.races needs of an access to an atomic field (``e``: a plain
    entry): ``"add"`` for ``x += n`` after the action (read, then written, in one
    step: ``atomic_long_add``), which commutes with another add; True for any
    other access to one; False for a plain field."""
    if not e[5]:
        return False
    return "add" if e[1] and e[6] == _R and e[0] == _W else True

_HERE = os.path.dirname(os.path.abspath(__file__))
_ENGINE_FILES = frozenset(os.path.join(_HERE, f) for f in (
    "memory.py", "objects.py", "recorder.py", "containers.py", "ghost.py"))


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
    """Collects what the running step touched (one per World)."""

    __slots__ = ("phase", "ev", "task", "name", "mark", "plain", "action", "dead", "fresh",
                 "conversions", "gen", "coverage", "ops", "gens", "cont_touched", "owners",
                 "collect", "collect_only", "op_keys")

    def __init__(self):
        self.phase = _ACTION
        self.ev = None
        self.task = -1
        self.name = ""
        self.mark = 0
        self.plain = None           # key -> [kind, late, label, lifetime uid, function, marked,
        #                                 first kind, stored a new value, declared marked, soft]
        self.action = None          # {uid: kind} of the action (for "declared")
        self.dead = None
        self.owners = None          # lifetimes the action itself read (a lock in a page)
        self.collect = None         # base -> kind of what a put's free check touches (World)
        self.collect_only = False   # ... the check of a put that does not free (checker.races: soft)
        self.cont_touched = False   # task code after the action touched shared memory
        self.fresh = set()
        self.conversions = []       # (plain container, its copy when stored, where), this execution
        self.gen = None
        self.coverage = set()       # what ran this execution (checker.coverage)
        self.ops = {}               # task -> families of the operations it is inside
        self.op_keys = {}           # task -> what its open operations worked on (op_object)
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
        self.plain = self.action = self.dead = self.owners = None
        self.cont_touched = False
        if self.fresh:
            self.fresh.clear()

    def cont(self) -> None:
        """The action is done; what follows is its continuation."""
        self.phase = _CONT

    def finish(self, ev) -> None:
        """Hand what the step touched to ``ev``."""
        if self.conversions:
            self._check_conversions()
        if self.gens:
            self._check_generators()
        plain = self.plain
        if plain or self.owners:
            out = [(k, e[0], e[1], e[2], e[3], e[4], _marked(e) if e[5] else _CHECK if e[9] else
                     _SAME if e[0] == _W and not e[7] and not e[1] else False, e[8])
                   for k, e in plain.items()] if plain else []
            if self.owners:
                # The action's use of an object living in another: a use of that
                # one's lifetime, which checker.races orders against its free.
                out.extend((None, _R, False, label, life, None, False, False)
                           for life, label in self.owners)
            ev.plain = tuple(out)
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
            if not fams:
                self.op_keys.pop(task, None)

    def op_object(self, task, key) -> None:
        fams = self.ops.get(task)
        if not fams:
            return
        for u, keys in self.op_keys.items():
            if u != task and key in keys:
                for g in self.ops.get(u, ()):
                    for f in fams:
                        self.coverage.add("same:" + "+".join(sorted((f, g))))
        self.op_keys.setdefault(task, set()).add(key)

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

    def touch_owner(self, owner, label) -> None:
        """The action uses an object embedded in ``owner`` (a page's lock): a use of
        ``owner``'s memory (checked against its free by checker.races)."""
        if not owner.permanent:
            if self.owners is None:
                self.owners = []
            self.owners.append((owner.pin_uid, label))
        if not owner.alive:
            self._dead(owner, label, _R)

    def touch(self, owner, key, kind, label, same: bool = False) -> None:
        """Task code accesses ``key`` (``(uid, field)``) of memory that lives in ``owner``;
        ``same``: a write that stores the value the field already holds."""
        base = owner.uid if owner is not None else key[0]
        phase = self.phase
        if phase == _CONT:
            self.cont_touched = True
        if type(base) is tuple and base[0] == self.task and base[1] > self.mark:
            return          # made by this step: nobody else can have seen it
        if phase == _PREFIX:
            raise ModelError(f"task {self.name} touches {label} in {where()} before its first "
                             f"yield; a task's first step must be an action (yield label(...) first)")
        if owner is not None and not owner.alive:
            self._dead(owner, label, kind)
        self._note(key, kind, label, owner, base, same)

    def touch_const(self, owner, key, label) -> None:
        """Task code reads a constant field of ``owner`` (checker.memory._Const): a use of
        its memory.  Before the task's first yield it is not recorded (as for ghost state:
        it runs before any step, the same in every execution)."""
        if self.phase == _PREFIX:
            return
        # Not ``cont_touched``: a constant read sees the same value every round, so a
        # spin or retry loop that makes one still repeats exactly (checker.spinloop).
        base = owner.uid
        if type(base) is tuple and base[0] == self.task and base[1] > self.mark:
            return
        if not owner.alive:
            self._dead(owner, label, A.R)
        self._note(key, A.R, label, owner, base)

    def touch_ghost(self, key, kind, label) -> None:
        """Task code accesses ghost state (checker.ghost).  Code before a task's first
        yield runs when the World is made, before any step of any task and in the same
        order in every execution: nothing can race with it, so it is not recorded."""
        if self.phase == _PREFIX:
            return
        if self.phase == _CONT:
            self.cont_touched = True
        base = key[0]
        if type(base) is tuple and base[0] == self.task and base[1] > self.mark:
            return
        self._note(key, kind, label, None, base)

    def touch_shared(self, obj, kind, state) -> None:
        """Task code reads an engine object's state (``v.value``, ``lock.writer``)."""
        uid = obj.uid
        phase = self.phase
        if phase == _CONT:
            self.cont_touched = True
        if type(uid) is tuple and uid[0] == self.task and uid[1] > self.mark:
            return
        if phase == _PREFIX:
            raise ModelError(f"task {self.name} reads {obj.name} in {where()} before its first "
                             f"yield; a task's first step must be an action (yield label(...) first)")
        owner = obj.owner
        if owner is not None and not owner.alive:
            self._dead(owner, obj.name, kind)
        self._note(uid, kind, obj.name, owner, uid)

    # -- helpers -----------------------------------------------------------------------
    def _note(self, key, kind, label, owner, base, same: bool = False) -> None:
        if self.collect is not None:
            self.collect[base] = _merge(self.collect.get(base, kind), kind)
        late = self.phase == _CONT and not self._covered(base, kind)
        if late and owner is not None and owner.mem_uid is not None \
                and self._covered(owner.mem_uid, kind):
            late = False        # declared by a read under a reference (checker.refs)
        plain = self.plain
        if plain is None:
            plain = self.plain = {}
        e = plain.get(key)
        if e is None:
            life = owner.pin_uid if owner is not None and not owner.permanent else None
            marked = type(label) is MarkedLabel
            # [6]: the first access's kind; [7]: a write stored a new value; [8]: the
            # step's action declared it as a marked access (READ_ONCE, WRITE_ONCE); [9]: only
            # the free check of a put that does not free made it
            plain[key] = [kind, late, label, life, where() if late or marked else None,
                          marked, kind, kind == _W and not same, not late and self._once(),
                          self.collect_only]
        else:
            if e[0] != kind:
                e[0] = _merge(e[0], kind)
            if kind == _W and not same:
                e[7] = True
            if e[8] and (late or not self._once()):
                e[8] = False
            if e[9] and not self.collect_only:
                e[9] = False
            if late:
                # Some of it stands after the action: check it all as late (a
                # covered read and an undeclared write of one field, say).
                e[1] = True
                if e[4] is None:
                    e[4] = where()

    def _once(self) -> bool:
        """Whether the step's action is an ``Obj.access`` the model marks (``marked=True``):
        what it declares, the code after it accesses as the kernel's ``READ_ONCE``/
        ``WRITE_ONCE`` do (checker.races judges the pair by it)."""
        if self.phase != _CONT:
            return False        # a put's free check, run by the action itself
        a = self.ev.action
        return a.op == A.ACCESS and a.order == A.MARKED

    def _covered(self, base, kind) -> bool:
        """Whether the step's action declared ``base`` (for a write: as a write)."""
        act = self.action
        if act is None:
            ev = self.ev
            if ev.fps is not None:
                act = {o: k for o, k, _, _ in ev.fps}
            elif ev.kind:
                act = {ev.obj: ev.kind}
            else:
                act = {}
            self.action = act
        k = act.get(base)
        # Only a read or a write of ``base`` orders what the code after it does:
        # an addition or a put commutes with another task's (a read of a counter
        # after one's own add, of an object's memory after one's own put, is
        # unordered with the other task's add or put, which may free it).
        return k == _W or (kind == _R and k == _R)

    def _dead(self, owner, label, kind) -> None:
        if self.dead is None:
            self.dead = []
        # The action itself (a lock operation): the function that yielded it.
        fn = innermost(self.gen) if self.phase == _ACTION else where()
        self.dead.append((owner, label, kind, fn))
