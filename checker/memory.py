"""Shared memory the engine sees: structs and containers whose accesses are recorded.

A model keeps its shared data (the fields of a kernel struct, a list head, the
bytes of a page) in plain Python objects, and the search is only sound if the
footprint of every step contains everything the step really touched.  So the
engine does not take the model's word for it: a model declares its structs
with :func:`shared_struct` and its containers as :class:`SharedList` and
:class:`SharedDict`, and every read and write of them that task code makes is
recorded into the footprint of the step that makes it (ARCHITECTURE.md
section 5: "the engine sees or checks that, never the model's word alone").

What a step is.  The engine performs a task's action and then runs the task's
code up to its next ``yield``: that code (the *continuation*) is part of the
step, so a plain access there happens atomically with the action before it.
The search orders actions only; that is complete exactly when the plain
accesses are free of data races, which :mod:`checker.races` checks on every
execution and reports as ``data-race``.  An access is *declared* when the
action of its step named the object (``yield page.desc.access()`` followed
by reads of the page descriptor): it then stands at the action itself.

Granularity.  A field is its own location (``(owner uid, field)``), a
container key too (a list is one location), so two tasks writing different
fields of one zspage do not race.  Using memory whose owner is freed is a use
after free (``no-free-while-mapped``), and a plain use that a free of its
owner could precede is a race with that free (:mod:`checker.races`).

Fields come in three kinds:

* tracked (the default): every access recorded;
* ``const``: written only while the struct is new (in the step that created
  it, or before any execution); a later write is a
  :class:`~checker.errors.ModelError`.  A read is recorded as a use of the
  owner's memory only (no write can conflict with it): after the owner's
  free it is a use after free, and unordered with the free a race;
* ``ghost``: model bookkeeping for the checks (not kernel state), in no
  footprint.  A kernel function must not depend on it, and the engine
  checks that (:mod:`checker.ghost`): task code's ghost accesses are
  checked as plain ones, and a read no action orders against another
  task's write makes the search incomplete.

What cannot be seen: Python state outside these objects (module globals,
class attributes, the attributes of a task's own version object); the World
checks that it does not make an execution differ from the last one after the
same steps (:meth:`~checker.world.World.step`).  A value stored in shared
memory must be shared memory itself or immutable (a tuple or frozen dataclass
of such values, checked inside); anything
else (a plain list, an arbitrary object) is refused with a ModelError, so
nothing escapes unseen through a field.
"""

from __future__ import annotations

import dataclasses
import enum
import threading
import types

from .errors import ModelError
from .ghost import Ghost

R, W = 1, 2      # the footprint kinds of checker.actions (no import cycle)
_VALUES = frozenset((bool, int, str, bytes, type(None)))    # compared by value in a store

class _Local(threading.local):
    rec = None          # the recorder of the running step, per thread


_tls = _Local()


def recorder():
    """The recorder of the running step (None outside task code)."""
    return _tls.rec


def set_recorder(rec):
    """Install ``rec`` for this thread; returns the previous one (the World restores it)."""
    old = _tls.rec
    _tls.rec = rec
    return old


# -- what may be stored in shared memory -------------------------------------------
_SIMPLE = {type(None), bool, int, float, str, bytes, range, type, types.FunctionType,
           types.BuiltinFunctionType, types.MethodType}
# Types found shareable as they are (shared objects, structs, enums; a frozen dataclass
# is checked field by field each time),
# added to _SIMPLE as they are met so the next store skips the checks.


def share(value, where: str, owner=None):
    """``value`` as it may be stored in shared memory at ``where``.

    Immutable values and shared objects are stored as they are.  A plain
    ``list``, ``dict`` or ``set`` is copied into a :class:`SharedList` /
    :class:`SharedDict` (so ``cls.fullness_list[0] = []`` works as in the
    kernel-shaped code); the original must not be changed afterwards through
    another reference, which the World checks.  Anything else is refused: its
    own state would escape the engine.
    """
    t = type(value)
    if t in _SIMPLE:
        return value
    if t is tuple or t is frozenset:
        for x in value:
            check_shareable(x, where)
        return value
    if getattr(t, "__zsmc_shared__", False):
        if isinstance(value, _Container):
            value._adopt(owner, where)
        else:
            _SIMPLE.add(t)
        return value
    if t is list or t is set:
        copy = SharedList(value, owner=owner, label=where)
        _note_conversion(value, copy, where)
        return copy
    if t is dict:
        copy = SharedDict(value, owner=owner, label=where)
        _note_conversion(value, copy, where)
        return copy
    check_shareable(value, where)
    if isinstance(value, enum.Enum):
        _SIMPLE.add(t)
    elif t is types.MappingProxyType:
        # A read-only view of a dict someone else may hold and change: a copy of its own.
        return types.MappingProxyType(dict(value))
    return value


def check_shareable(value, where: str) -> None:
    """Refuse a value whose own state the engine could not see once stored in ``where``."""
    t = type(value)
    if t in _SIMPLE:
        return
    if t is tuple or t is frozenset:
        for x in value:
            check_shareable(x, where)
        return
    if getattr(t, "__zsmc_shared__", False) or isinstance(value, enum.Enum):
        return
    if dataclasses.is_dataclass(t) and t.__dataclass_params__.frozen:
        # Frozen is the dataclass's own fields: a list in one is still a list.
        for f in dataclasses.fields(value):
            check_shareable(getattr(value, f.name), f"{where}.{f.name}")
        return
    if isinstance(value, types.MappingProxyType):
        for k, x in value.items():
            check_shareable(k, where)
            check_shareable(x, f"{where}[{k!r}]")
        return
    if isinstance(value, (list, dict, set, bytearray)):
        kind = "SharedDict" if isinstance(value, dict) else "SharedList"
        raise ModelError(f"{where}: a {t.__name__} inside a tuple or frozen value in shared memory would hide its "
                         f"accesses from the engine; use a checker.{kind}(...) instead")
    raise ModelError(f"{where}: a {t.__name__} is not memory the engine can see; make it a "
                     f"checker.shared_struct, or a frozen dataclass or a tuple of such values")


def _note_conversion(original, copy, where):
    rec = _tls.rec
    if rec is not None:
        rec.converted(original, copy, where)


# -- structs ------------------------------------------------------------------------
class MarkedLabel(str):
    """The label of a location whose plain accesses are marked (atomic in the kernel)."""

    __slots__ = ()


class _Tracked:
    """A field whose every access is recorded, against its owner's lifetime."""

    __slots__ = ("name", "slot", "owner", "label")

    def __init__(self, name, slot, owner, label, atomic=False):
        self.name = name
        self.slot = slot          # the member descriptor that stores the value
        self.owner = owner        # the member descriptor of the owner Obj
        # "Page.movable", for messages; an atomic field's label is a MarkedLabel,
        # which tells the recorder the access is marked (not a data race).
        self.label = MarkedLabel(label) if atomic else label

    def __get__(self, inst, cls=None):
        if inst is None:
            return self
        v = self.slot.__get__(inst, cls)
        rec = _tls.rec
        if rec is not None:
            o = self.owner.__get__(inst, cls)
            rec.touch(o, (o.uid, self.name), R, self.label)
        return v

    def __set__(self, inst, value):
        if type(value) not in _SIMPLE:
            value = share(value, self.label, self.owner.__get__(inst, None))
        rec = _tls.rec
        if rec is not None:
            o = self.owner.__get__(inst, None)
            try:
                old = self.slot.__get__(inst, None)
            except AttributeError:          # the struct's __init__
                same = False
            else:
                # A store of the value the field holds (checker.races: KCSAN's default
                # configuration reports no race on it); compared by identity, or by
                # value for plain values only (no shared object's __eq__ runs here).
                same = old is value or (type(old) is type(value) and type(value) in _VALUES
                                        and old == value)
            rec.touch(o, (o.uid, self.name), W, self.label, same)
        self.slot.__set__(inst, value)


class _Const:
    """A field set when the struct is made and never again.  A read is recorded as a
    use of the owner's memory (a use after free, or a race with the free), never as a
    conflict with a write: there is none once the struct is visible.  The owner field
    itself and ``name`` (the model's identity of the struct, no kernel memory) are not
    recorded, nor are fields of a never-freed owner."""

    __slots__ = ("name", "slot", "label", "owner")

    def __init__(self, name, slot, label, owner=None):
        self.name = name
        self.slot = slot
        self.label = label
        self.owner = owner

    def __get__(self, inst, cls=None):
        if inst is None:
            return self
        v = self.slot.__get__(inst, cls)
        owner = self.owner
        if owner is not None:
            rec = _tls.rec
            if rec is not None:
                o = owner.__get__(inst, cls)
                if o is not None and not o.permanent:
                    rec.touch_const(o, (o.uid, self.name), self.label)
        return v

    def __set__(self, inst, value):
        rec = _tls.rec
        if rec is not None and not rec.is_fresh(inst):
            raise ModelError(f"{self.label} is constant once the struct is visible; "
                             f"declare it a tracked field if the kernel changes it")
        if type(value) not in _SIMPLE:
            value = share(value, self.label)
        self.slot.__set__(inst, value)


def shared_struct(owner: str, const=(), ghost=(), owners=None, atomic=()):
    """Class decorator for a ``@dataclass(slots=True)`` whose fields are shared memory.

    ``owner`` names the field holding the :class:`~checker.objects.Obj` whose
    lifetime the struct's memory shares (``"obj"`` for a zspage, ``"desc"`` for
    a page descriptor); it must be ``const``.  ``owners`` maps a field to
    another const field holding the Obj its memory belongs to (a page's
    contents belong to the page frame, not its descriptor).  ``const`` and
    ``ghost`` list fields of those kinds; every other field is tracked.
    ``atomic`` fields are tracked but updated only atomically in the kernel
    (an ``atomic_long_t``: ``x += n`` in one step is ``atomic_long_add``), so
    they are exempt from the data-race check.  They are still ordered as
    plain accesses are (adds after a step's action, which commute, aside): an
    unordered pair makes the search incomplete, since no footprint holds them
    (checker/races.py).  Use it below ``@dataclass``::

        @shared_struct(owner="obj", const=("name", "obj", "cls"))
        @dataclass(slots=True, eq=False)
        class Zspage: ...
    """
    const = tuple(const)
    ghost = tuple(ghost)
    owners = dict(owners or {})
    if owner not in const:
        const = const + (owner,)
    for o in owners.values():
        if o not in const:
            const = const + (o,)

    def wrap(cls):
        if not dataclasses.is_dataclass(cls) or "__slots__" not in vars(cls):
            raise ModelError(f"shared_struct: {cls.__name__} must be a @dataclass(slots=True)")
        names = [f.name for f in dataclasses.fields(cls)]
        for n in const + ghost + tuple(owners) + tuple(atomic):
            if n not in names:
                raise ModelError(f"shared_struct: {cls.__name__} has no field {n!r}")
        slots = {n: vars(cls)[n] for n in names}
        for n in names:
            label = f"{cls.__name__}.{n}"
            if n in ghost:
                setattr(cls, n, Ghost(n, slots[n], slots[owner], label, _tls))
                continue
            if n in const:
                own = owners.get(n, owner)
                setattr(cls, n, _Const(n, slots[n], label,
                                       None if n == own or n == "name" else slots[own]))
            else:
                setattr(cls, n, _Tracked(n, slots[n], slots[owners.get(n, owner)], label,
                                         n in atomic))
        init = cls.__init__

        def __init__(self, *args, **kwargs):
            rec = _tls.rec
            if rec is not None:
                rec.made(self)
            init(self, *args, **kwargs)

        __init__.__doc__ = init.__doc__
        cls.__init__ = __init__
        cls.__zsmc_shared__ = True
        cls.__zsmc_owner__ = owner
        return cls

    return wrap


# The containers (checker/containers.py) use the recorder and share() above.
from .containers import SharedDict, SharedList, _Container, peek  # noqa: F401
