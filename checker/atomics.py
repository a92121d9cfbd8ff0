"""The kernel's names for ordered accesses and barriers (Documentation/memory-barriers.txt,
Documentation/atomic_t.txt), as actions on a :class:`~checker.Var`.

Each is ``yield``-ed like any action; the ordering it carries matters only
under a weak memory model (``Program(memory_model="ra")``,
:mod:`checker.memory_model`).  Value-returning RMWs without a suffix
(``atomic_cmpxchg``, ``atomic_dec_return``, ``xchg``) are fully ordered
(``FULL``); ``atomic_inc``/``atomic_dec``, ``atomic_read`` and ``atomic_set``
are relaxed.  A Var's own methods take the same ``order=``.
"""

from __future__ import annotations

from .actions import fence
from .memory_model import ACQUIRE, FULL, RELAXED, RELEASE

__all__ = ["ACQUIRE", "FULL", "READ_ONCE", "RELAXED", "RELEASE", "WRITE_ONCE", "smp_load_acquire",
           "smp_mb", "smp_rmb", "smp_store_release", "smp_wmb"]


def READ_ONCE(var):  # noqa: N802 - the kernel's name
    """``READ_ONCE(x)``: a relaxed load (its address dependencies are not modelled)."""
    return var.read(RELAXED)


def WRITE_ONCE(var, value):  # noqa: N802 - the kernel's name
    """``WRITE_ONCE(x, v)``: a relaxed store."""
    return var.write(value, RELAXED)


def smp_load_acquire(var):
    """``smp_load_acquire(p)``: an acquire load."""
    return var.read(ACQUIRE)


def smp_store_release(var, value):
    """``smp_store_release(p, v)``: a release store."""
    return var.write(value, RELEASE)


def smp_mb():
    """``smp_mb()``: a full barrier."""
    return fence("mb")


def smp_rmb():
    """``smp_rmb()``: orders loads before it against what follows (an acquire fence here)."""
    return fence("rmb")


def smp_wmb():
    """``smp_wmb()``: orders what precedes it against stores after it (a release fence here)."""
    return fence("wmb")
