"""Shared containers: :class:`SharedList` and :class:`SharedDict`, lists and dicts in
shared memory whose every read and write of task code is recorded (see
:mod:`checker.memory`, which converts a plain list or dict stored in a shared
struct into one of these).
"""

from __future__ import annotations

from .errors import ModelError
from .ghost import GhostView
from .memory import R, W, _tls, check_shareable, share

# checker.objects, which imports this module: looked up once, at the first container
# made (an import statement in _init cost a look-up per container of every build).
_objects = None


def _load_objects():
    global _objects
    from . import objects
    _objects = objects
    return objects


# -- containers -----------------------------------------------------------------------
class _Container:
    """What SharedList and SharedDict share: an owner, a uid, a label."""

    __slots__ = ("_owner", "_uid", "_label")
    __zsmc_shared__ = True

    def _init(self, owner, label):
        objects = _objects or _load_objects()
        if owner is not None and not isinstance(owner, objects.Obj):
            raise ModelError(f"{type(self).__name__}: owner must be a checker.Obj, got {owner!r}")
        self._owner = owner
        self._uid = objects._new_uid()
        self._label = label or type(self).__name__

    def _adopt(self, owner, label):
        """Stored in a field: the container's memory is its owner's (and so are its
        containers')."""
        if self._owner is None and owner is not None:
            self._owner = owner
            self._label = label
            for x in self._contents():
                if isinstance(x, _Container):
                    x._adopt(owner, label)

    def _touch(self, key, kind):
        rec = _tls.rec
        if rec is not None:
            rec.touch(self._owner, (self._uid, key), kind, self._label)


_WHOLE = "#"        # the key of a list's contents, or of a dict's key set


class SharedList(_Container):
    """A list in shared memory (a kernel list head, an array of counters).

    Its contents are one location: reading any of it reads the list, changing
    it writes the list.  ``owner`` is the Obj whose lifetime it shares (None:
    the owner of the struct field it is stored in).
    """

    __slots__ = ("_items",)

    def __init__(self, items=(), owner=None, label=None):
        self._init(owner, label)
        src = items._items if isinstance(items, SharedList) else items
        self._items = [share(x, self._label, owner) for x in src]

    def _contents(self):
        return self._items

    def _read(self):
        self._touch(_WHOLE, R)
        return self._items

    def _write(self):
        self._touch(_WHOLE, W)
        return self._items

    def _store(self, x):
        return share(x, self._label, self._owner)

    def __len__(self):
        return len(self._read())

    def __bool__(self):
        return bool(self._read())

    def __iter__(self):
        return iter(list(self._read()))

    def __contains__(self, x):
        return x in self._read()

    def __getitem__(self, i):
        return self._read()[i]

    def __setitem__(self, i, x):
        self._write()[i] = self._store(x)

    def __delitem__(self, i):
        del self._write()[i]

    def __eq__(self, other):
        mine = self._read()
        if isinstance(other, SharedList):
            return mine == other._read()
        return mine == other

    __hash__ = None

    def __repr__(self):
        return f"SharedList({self._items!r})"

    def append(self, x):
        self._write().append(self._store(x))

    def insert(self, i, x):
        self._write().insert(i, self._store(x))

    def extend(self, xs):
        xs = [self._store(x) for x in xs]
        self._write().extend(xs)

    def remove(self, x):
        self._write().remove(x)

    def pop(self, i=-1):
        return self._write().pop(i)

    def clear(self):
        self._write().clear()

    def index(self, x):
        return self._read().index(x)

    def count(self, x):
        return self._read().count(x)

    def copy(self) -> list:
        """A plain copy of the contents (a read)."""
        return list(self._read())


class SharedDict(_Container):
    """A dict in shared memory: each key is its own location, and so is the key set.

    Reading a key reads it (a missing key reads the key set); iterating reads
    the key set and every value; adding or deleting a key writes both.
    """

    __slots__ = ("_d",)

    def __init__(self, items=(), owner=None, label=None):
        self._init(owner, label)
        d = {}
        src = items._read_all() if isinstance(items, SharedDict) else dict(items)
        for k, v in src.items():
            check_shareable(k, self._label)
            d[k] = share(v, self._label, owner)
        self._d = d

    def _contents(self):
        return self._d.values()

    def _read_all(self):
        d = self._d
        self._touch(_WHOLE, R)
        for k in d:
            self._touch(k, R)
        return d

    def __getitem__(self, k):
        d = self._d
        if k in d:
            self._touch(k, R)
            return d[k]
        self._touch(_WHOLE, R)
        raise KeyError(k)

    def get(self, k, default=None):
        d = self._d
        if k in d:
            self._touch(k, R)
            return d[k]
        self._touch(_WHOLE, R)
        return default

    def __contains__(self, k):
        self._touch(k if k in self._d else _WHOLE, R)
        return k in self._d

    def __setitem__(self, k, v):
        check_shareable(k, self._label)
        v = share(v, self._label, self._owner)
        d = self._d
        if k not in d:
            self._touch(_WHOLE, W)
        self._touch(k, W)
        d[k] = v

    def __delitem__(self, k):
        self._touch(_WHOLE, W)
        self._touch(k, W)
        del self._d[k]

    def pop(self, k, *default):
        if k in self._d:
            self._touch(_WHOLE, W)
            self._touch(k, W)
            return self._d.pop(k)
        self._touch(_WHOLE, R)
        if default:
            return default[0]
        raise KeyError(k)

    def __len__(self):
        self._touch(_WHOLE, R)
        return len(self._d)

    def __bool__(self):
        self._touch(_WHOLE, R)
        return bool(self._d)

    def __iter__(self):
        self._touch(_WHOLE, R)
        return iter(list(self._d))

    def keys(self):
        self._touch(_WHOLE, R)
        return list(self._d)

    def items(self):
        return list(self._read_all().items())

    def values(self):
        return list(self._read_all().values())

    def copy(self) -> dict:
        """A plain copy of the contents (a read of every key)."""
        return dict(self._read_all())

    def __eq__(self, other):
        mine = self._read_all()
        if isinstance(other, SharedDict):
            return mine == other._read_all()
        return mine == other

    __hash__ = None

    def __repr__(self):
        return f"SharedDict({self._d!r})"


def peek(container):
    """The plain contents of a shared container or a ghost field, unrecorded: for
    monitors and invariants, which read the state between steps and are not task
    code, and for test scaffolding that finds build-time objects by name.  What task
    code reads through it is not checked: a kernel function must not use it."""
    if type(container) is GhostView:
        return container._target
    if isinstance(container, SharedList):
        return container._items
    if isinstance(container, SharedDict):
        return container._d
    return container
