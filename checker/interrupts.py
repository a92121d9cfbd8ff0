"""Interrupt context: hard IRQ and softirq handlers bound to a CPU.

A task declared ``Task(fn, name, cpu, irq="hard")`` (or ``"soft"``) is an
interrupt handler of CPU ``cpu``.  It may fire at any step of its CPU where
interrupts (for a softirq: bottom halves) are enabled, even inside a
preempt-disabled section or while the CPU's task holds a spinlock: its
first step can be taken whenever the task owning the CPU could be
interrupted (:meth:`checker.World.interruptible`).  Once it runs it owns the
CPU until it returns (nothing else of that CPU runs meanwhile), then gives
the CPU back to the task it interrupted.  It runs with a raised preempt
count (``in_interrupt()``), so sleeping in it is sleep-in-atomic, and a
hard handler runs with interrupts off.  It fires once per execution (a
second interrupt is a second handler).

``local_irq_disable``/``local_irq_enable`` (``local_irq_save``/``restore``)
and ``local_bh_disable``/``local_bh_enable`` are actions: they raise the
preempt count like ``preempt_disable`` and mask the handlers;
:func:`spin_lock_irqsave` and friends are their kernel compositions, used
with ``yield from``.  The ``irq-lock-state`` property applies lockdep's
IRQ-state rules.

Exploration: ``dfs`` and the sampling schedulers explore such programs as any
other (they only ask the World what may run).  ``dpor``'s reasoning about
who may run on a CPU knows sections, not interrupts, so ``explore`` runs a
program with handlers by ``dfs`` when asked for ``dpor``, and says so in the
result's note.  Not modelled: PREEMPT_RT's threaded interrupts and its
sleeping ``local_bh_disable``, NMIs, nested hard IRQs.
"""

from __future__ import annotations

from .actions import local_bh_disable, local_bh_enable, local_irq_disable, local_irq_enable

__all__ = ["local_bh_disable", "local_bh_enable", "local_irq_disable", "local_irq_enable",
           "local_irq_restore", "local_irq_save", "spin_lock_bh", "spin_lock_irq", "spin_lock_irqsave",
           "spin_unlock_bh", "spin_unlock_irq", "spin_unlock_irqrestore"]

local_irq_save = local_irq_disable
local_irq_restore = local_irq_enable


def spin_lock_irqsave(lock, shared: bool = False):
    """``spin_lock_irqsave`` (``read_lock_irqsave`` with ``shared``): interrupts off, then the lock."""
    yield local_irq_disable()
    yield lock.acquire(shared=shared)


def spin_unlock_irqrestore(lock):
    yield lock.release()
    yield local_irq_enable()


spin_lock_irq = spin_lock_irqsave
spin_unlock_irq = spin_unlock_irqrestore


def spin_lock_bh(lock, shared: bool = False):
    """``spin_lock_bh``: bottom halves off, then the lock."""
    yield local_bh_disable()
    yield lock.acquire(shared=shared)


def spin_unlock_bh(lock):
    yield lock.release()
    yield local_bh_enable()
