"""Mutations of memory ordering: found under a weak memory model only (section 4 #16;
:mod:`checker.memory_model`).

See :mod:`model.mutations` for the conventions.
"""

from __future__ import annotations

from checker.atomics import RELAXED

from ..versions import V5
from ._register import _mutation


# -- #16 the v5 zspage lock's reader side without acquire/release --------------------------
@_mutation("relaxed-zspage-lock", "v5", "data-race",
           "Yosry Ahmed's review of v4 of 'zsmalloc/zram: there be preemption', Feb 2025",
           "#16: the zspage read lock's acquire and read unlock's release weakened to relaxed "
           "(v4's atomic_read/atomic_dec)", memory_model="ra")
class RelaxedZspageLock(V5):
    """Hazard #16 (section 4): v5's reader side of the atomic zspage lock with relaxed
    atomics, as v4 had them (``atomic_read`` and ``atomic_dec``; v4's
    ``atomic_try_cmpxchg`` is taken as relaxed too).  A writer's
    ``atomic_try_cmpxchg_acquire`` that reads a reader's relaxed decrement does not
    synchronise with it: the reader's accesses to the object do not happen before the
    writer's, and nothing else orders them (``pool->lock`` was dropped before the
    access, hand-over-hand).  On a sequentially consistent model every read sees the
    last write and nothing shows.

    Must violate: ``data-race``, found in scenario ``read-migrate`` at depth 1 under
    ``--memory-model ra``; silent under ``sc``.
    """

    READ_LOCK_ORDER = RELAXED
    READ_UNLOCK_ORDER = RELAXED
