"""A page's memory, in which the two halves of a spanning object are different bytes.

An object that spans two pages (protocol Terminology, "spanning object") has
its first half at the end of one page and its second half at the start of the
next.  The model stores a value, not bytes, and every writer stores the whole
value under ``("data", idx)`` in both pages; so, before this module, a reader
that took the second half from the first page again (or mapped a spanning
object in place, or copied it from one page only) read the right value and
passed.  What a read returns now depends on *where* it reads: the page knows
which objects start in it (``first_objs``, the kernel's
``first_obj_offset``), so a read of ``("data", idx)`` in a page where object
``idx`` does not start is its second half, and in the page where a spanning
object starts, its first half (:class:`Half`).  :func:`object_value` puts two
halves back together and only a first half followed by a second half of the
same value is the value.

Nothing a variant writes has to change: stores and copies (``newpage.mem =
SharedDict(page.mem)``) keep plain values, and whatever mapping is stored in
``Page.mem`` becomes that page's :class:`PageMem` (:func:`install`).  A half
read and stored elsewhere stays the half it was, so copying a first half into
a second half's place is seen too.
"""

from __future__ import annotations

from dataclasses import dataclass

from checker import SharedDict
from checker.containers import peek
from checker.memory import set_recorder

_MISSING = object()


@dataclass(frozen=True, slots=True)
class Half:
    """One page's part of a spanning object: ``first`` (the page it starts in) or not."""

    first: bool
    value: object

    def __repr__(self) -> str:
        return f"{'first' if self.first else 'second'} half of {self.value!r}"


def object_value(parts):
    """The value of an object from what was read of it, one part per page it spans.

    A whole object read in one part is that part (a :class:`Half` there is a
    spanning object read as if it fitted in its page: not its value).  Two
    parts are the value when they are its first and its second half and agree
    (a first part read from a page that no longer knows its zspage, a page
    migrated away, is taken as a first half); anything else is the torn tuple.
    """
    if len(parts) == 1:
        return parts[0]
    a, b = parts
    if type(b) is Half and not b.first:
        if type(a) is Half:
            if a.first and a.value == b.value:
                return a.value
        elif a == b.value:
            return a
    return ("torn",) + tuple(parts)


class PageMem(SharedDict):
    """``Page.mem``: a :class:`~checker.SharedDict` whose reads of object data say which
    half of a spanning object they read (module docstring)."""

    __slots__ = ("_page",)

    def __init__(self, page, items=()):
        self._page = page
        SharedDict.__init__(self, dict(peek(items)) if isinstance(items, SharedDict) else items)

    def get(self, k, default=None):
        v = SharedDict.get(self, k, _MISSING)
        if v is _MISSING:
            return default
        return self._half(k, v)

    def __getitem__(self, k):
        return self._half(k, SharedDict.__getitem__(self, k))

    def _half(self, k, v):
        if type(v) is Half or type(k) is not tuple or len(k) != 2 or k[0] != "data":
            return v
        # Where the object lies is the page's layout, not a kernel access: read unrecorded.
        rec = set_recorder(None)
        try:
            page = self._page
            idx = k[1]
            if idx not in page.first_objs:
                return Half(False, v)
            zspage = page.zspage
            if zspage is not None and zspage.cls.geometry.location(idx)[2]:
                return Half(True, v)
            return v
        finally:
            set_recorder(rec)


class _PageMemField:
    """The ``mem`` field of a page: what is stored becomes the page's own PageMem (a copy),
    so ``newpage.mem = SharedDict(page.mem)`` in a variant keeps working."""

    __slots__ = ("field",)

    def __init__(self, field):
        self.field = field

    def __get__(self, inst, cls=None):
        return self.field.__get__(inst, cls)

    def __set__(self, inst, value):
        if type(value) is not PageMem or value._page is not inst:
            value = PageMem(inst, value)
        self.field.__set__(inst, value)


def install(page_cls) -> None:
    """Make ``page_cls.mem`` a field holding a :class:`PageMem` (after ``shared_struct``)."""
    page_cls.mem = _PageMemField(vars(page_cls)["mem"])
