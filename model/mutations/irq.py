"""Mutations of the calling context: zsmalloc used from interrupt context (section 4 #20;
:mod:`checker.interrupts`).

See :mod:`model.mutations` for the conventions.
"""

from __future__ import annotations

from ..versions import Upstream
from ._register import _mutation


# -- #20 a reader in hard interrupt context ------------------------------------------------
@_mutation("irq-reader", "upstream", "deadlock",
           "protocol §4 #20 (zsl->lock and pool->lock are not IRQ-safe; legacy's "
           "BUG_ON(in_interrupt()) in zs_map_object)",
           "the caller reads an object from a hard interrupt on the CPU whose task migrates "
           "a page of its zspage")
class IrqReader(Upstream):
    """Hazard #20 (section 4): the scenario's reader ``irqreader`` runs as a hard
    interrupt handler of its CPU.  ``pool->lock`` and ``zsl->lock`` are taken with
    interrupts enabled everywhere else, so an interrupt that arrives while the CPU's
    migration holds ``pool->lock`` for write (or a zspage's write lock) spins on it for
    ever: a self-deadlock, and lockdep's inconsistent lock state
    ``{IN-HARDIRQ-R} -> {HARDIRQ-ON-W}`` (``irq-lock-state``).  The zsmalloc code is
    unchanged: the bug is its caller's context, which the mutation names.

    Must violate: ``deadlock``, found in scenario ``irq-read-migrate`` at depth 1.
    """

    IRQ_CLIENTS = ("irqreader",)
