"""Mutations that show on a PREEMPT_RT kernel only (section 4 #26; :mod:`checker.config`).

See :mod:`model.mutations` for the conventions.
"""

from __future__ import annotations

from checker import preempt_disable, preempt_enable

from ..versions import V5
from ._register import _mutation


# -- #26 an RT-sleeping lock inside an explicit preempt_disable region ----------------------
@_mutation("rt-lock-in-preempt-disabled", "v5", "sleep-in-atomic",
           "2021 RT tree 'mm: Disable zsmalloc on PREEMPT_RT'; Sebastian Andrzej Siewior's v9/v10 "
           "review", "zs_free pins the handle with preemption off (pin_tag's bit spinlock) and "
           "takes pool->lock and class->lock inside", config="rt")
class RtLockInPreemptDisabled(V5):
    """Hazard #26 (section 4): the handle is pinned as ``pin_tag`` did before 5.17
    (``bit_spin_lock(HANDLE_PIN_BIT)``: preemption off) around ``zs_free``'s
    ``read_lock(&pool->lock)`` and ``spin_lock(&class->lock)``.  On !PREEMPT_RT both
    spin and the section is merely atomic; on PREEMPT_RT both are sleeping locks taken
    with preemption disabled, "sleeping function called from invalid context", the
    reason the RT tree disabled zsmalloc in 2021.

    Must violate: ``sleep-in-atomic``, found in scenario ``malloc-free`` at depth 1 under
    ``--config rt``; silent on a !PREEMPT_RT kernel.
    """

    def zs_free(self, handle):
        """``zs_free`` inside ``pin_tag``/``unpin_tag`` (a bit spinlock: preempt_disable)."""
        yield preempt_disable()
        yield from super().zs_free(handle)
        yield preempt_enable()
