"""Ghost fields: model bookkeeping the search need not order, as long as no task depends on it.

A ghost field (``shared_struct(ghost=...)``) holds what the checks need and the
kernel does not have: the handles the clients think are live, the value last
stored in each object, every page ever made.  The search's footprints leave it
out, so a ghost value that one task writes and another reads would carry
information between them along no footprint: orders that matter, never run, and
a "pass" over them.  memory.py's rule "a kernel function must not branch on it"
was a promise; here the engine checks it, the way it checks plain memory
(:mod:`checker.races`): in task code every access to a ghost field is recorded
as a plain access, never a footprint, and a read that no action orders against
another task's write of the same location makes the search incomplete
("ghost-order", under a search that orders steps by their footprints).  A
ghost read that passes this check sees a value the order of the actions fixes,
so one execution per trace still shows every behaviour (the race-freedom
argument, CHESS's and loom's, applied to ghost memory).

Locations and kinds, in task code (outside it, building a program or in the
checks, a ghost field is its plain value):

* a list or set is one location: ``append``/``add``/``extend``/``update`` are
  additions, which commute with each other (two tasks appending pages in
  either order leave the same collection) and conflict with reads;
  ``remove``/``discard``/``clear`` are writes; ``in``, ``len`` and truth are reads;
* a dict is a location per key: ``d[k]``, ``k in d``, ``d.get(k)`` read it,
  ``d[k] = v``, ``del d[k]``, ``d.pop(k)``, ``d.discard(k)`` write it;
* any other ghost field is one location, read and written.

What would see the order of commuting additions (iteration, indexing, a dict's
length or keys) is refused in task code with a ModelError, since no footprint
or clock could say which order a task saw.  The checks themselves read ghost
state at the end of an execution, after every task: they must treat a list as a
collection (the order of two tasks' unordered additions is not the trace's).
"""

from __future__ import annotations

from . import actions as A
from .errors import ModelError

_R, _W, _ADDS = A.R, A.W, A.ADDS


class GhostLabel(str):
    """The label of a ghost location (so checker.races words a race on it as what it is)."""

    __slots__ = ()


def _refused(label: str, what: str) -> ModelError:
    return ModelError(f"{label} is ghost state (for the checks) and kernel code used {what} of it, "
                      f"which depends on the order of other tasks' unordered updates: kernel code may "
                      f"test membership and read a dict's entries; declare the field tracked if the "
                      f"kernel has it")


class GhostView:
    """A ghost container as task code sees it: every use recorded (see the module docstring)."""

    __slots__ = ("_target", "_label", "_loc", "_rec")

    def __init__(self, target, label, loc, rec):
        self._target = target
        self._label = label         # a GhostLabel
        self._loc = loc             # (owner uid, field)
        self._rec = rec

    def _touch(self, kind, key=None) -> None:
        loc = self._loc if key is None else self._loc + (key,)
        self._rec.touch_ghost(loc, kind, self._label)

    def _is_dict(self) -> bool:
        return isinstance(self._target, dict)

    def _whole(self, kind, what) -> None:
        """An access to the whole container: a dict's is refused (its keys are separate
        locations, so nothing orders its whole content)."""
        if self._is_dict():
            raise _refused(self._label, what)
        self._touch(kind)

    # -- additions ------------------------------------------------------------------
    def append(self, value) -> None:
        self._whole(_ADDS, "append")
        self._target.append(value)

    def add(self, value) -> None:
        self._whole(_ADDS, "add")
        self._target.add(value)

    def extend(self, values) -> None:
        self._whole(_ADDS, "extend")
        self._target.extend(values)

    def update(self, *args, **kwargs) -> None:
        t = self._target
        if isinstance(t, dict):
            new = dict(*args, **kwargs)
            for k in new:
                self._touch(_W, k)
            t.update(new)
            return
        self._touch(_ADDS)
        t.update(*args, **kwargs)

    def __iadd__(self, values):
        self.extend(values)
        return self

    def __ior__(self, values):
        self.update(values)
        return self

    # -- writes ---------------------------------------------------------------------
    def __setitem__(self, key, value) -> None:
        if self._is_dict():
            self._touch(_W, key)
        else:
            self._touch(_W)
        self._target[key] = value

    def __delitem__(self, key) -> None:
        if self._is_dict():
            self._touch(_W, key)
        else:
            self._touch(_W)
        del self._target[key]

    def pop(self, *args):
        t = self._target
        if not isinstance(t, dict):
            raise _refused(self._label, "pop()")
        if args:
            self._touch(_W, args[0])
        return t.pop(*args)

    def setdefault(self, key, default=None):
        if not self._is_dict():
            raise _refused(self._label, "setdefault()")
        self._touch(_W, key)
        return self._target.setdefault(key, default)

    def discard(self, x) -> None:
        """Drop ``x`` (a dict's key, a list's or set's value) if it is there."""
        t = self._target
        if isinstance(t, dict):
            self._touch(_W, x)
            t.pop(x, None)
            return
        self._touch(_W)
        if isinstance(t, set):
            t.discard(x)
        elif x in t:
            t.remove(x)

    def remove(self, x) -> None:
        self._whole(_W, "remove()")
        self._target.remove(x)

    def clear(self) -> None:
        self._whole(_W, "clear()")
        self._target.clear()

    # -- reads ----------------------------------------------------------------------
    def __contains__(self, x) -> bool:
        if self._is_dict():
            self._touch(_R, x)
        else:
            self._touch(_R)
        return x in self._target

    def __getitem__(self, key):
        if not self._is_dict():
            raise _refused(self._label, "indexing")
        self._touch(_R, key)
        return self._target[key]

    def get(self, key, default=None):
        if not self._is_dict():
            raise _refused(self._label, "get()")
        self._touch(_R, key)
        return self._target.get(key, default)

    def __len__(self) -> int:
        self._whole(_R, "len()")
        return len(self._target)

    def __bool__(self) -> bool:
        self._whole(_R, "truth")
        return bool(self._target)

    # -- refused: they would show an order or a whole dict ---------------------------
    def __iter__(self):
        raise _refused(self._label, "iteration")

    def __eq__(self, other):
        raise _refused(self._label, "==")

    def __ne__(self, other):
        raise _refused(self._label, "!=")

    __hash__ = None

    def __getattr__(self, name):
        raise _refused(self._label, f".{name}")

    def __repr__(self) -> str:
        return f"<ghost {self._label} in task code>"


_CONTAINERS = (list, set, dict)


class Ghost:
    """The descriptor of a ghost field (installed by ``shared_struct``)."""

    __slots__ = ("name", "slot", "owner", "label", "tls")

    def __init__(self, name, slot, owner, label: str, tls):
        self.tls = tls              # checker.memory's thread-local: .rec is the running step's recorder
        self.name = name
        self.slot = slot            # the member descriptor that stores the value
        self.owner = owner          # the member descriptor of the owner Obj
        self.label = GhostLabel(label)

    def __get__(self, inst, cls=None):
        if inst is None:
            return self
        v = self.slot.__get__(inst, cls)
        rec = self.tls.rec
        if rec is None:
            return v
        loc = (self.owner.__get__(inst, cls).uid, self.name)
        if isinstance(v, _CONTAINERS):
            return GhostView(v, self.label, loc, rec)
        rec.touch_ghost(loc, _R, self.label)
        return v

    def __set__(self, inst, value):
        if type(value) is GhostView:    # x.ghost += [...] in task code sets the view back
            value = value._target
        else:
            rec = self.tls.rec
            if rec is not None:
                rec.touch_ghost((self.owner.__get__(inst, None).uid, self.name), _W, self.label)
        self.slot.__set__(inst, value)
