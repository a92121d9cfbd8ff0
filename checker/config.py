"""The kernel configuration an execution runs under: ``!PREEMPT_RT`` or ``PREEMPT_RT``.

A model names each lock's kernel type once (``spinlock_t``, ``rwlock_t``,
``raw_spinlock_t``, ``local_lock_t``, ``struct mutex``, the page lock); what
the type does is the configuration's (Documentation/locking/locktypes.rst):

=================  ==============================  ====================================
type               !PREEMPT_RT                     PREEMPT_RT
=================  ==============================  ====================================
raw_spinlock_t     spins, preemption disabled      the same
spinlock_t         spins, preemption disabled      rt_mutex: sleeps, preemptible
rwlock_t           spins, preemption disabled      rwbase_rt: sleeps, preemptible
local_lock_t       ``preempt_disable()``           a per-CPU spinlock_t (sleeps)
mutex, rwsem,      sleep                           the same
page lock
=================  ==============================  ====================================

On RT the sleeping spinlock_t/rwlock_t/local_lock_t also ``migrate_disable()``:
the engine's tasks never leave their CPU, so that needs nothing.  Explicit
``preempt_disable()`` keeps its meaning, so taking an RT-sleeping lock inside
it is "sleeping function called from invalid context" (catalogue #26), which
``sleep-in-atomic`` reports because such a lock no longer raises the preempt
count and its acquisition may sleep.  Not modelled: priority inheritance (it
changes which waiter runs first, not which executions exist: the search
explores every order of the runnable tasks), and rwbase_rt's writer
preference (a reader arriving while a writer waits is let in here).

The configuration is the program's (:class:`checker.Program` ``config=``);
the World makes it current while it runs the program's code, so a lock
behaves by the configuration of the execution it is used in.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass

from .errors import UsageError


@dataclass(frozen=True)
class KernelConfig:
    """A kernel configuration: its name and whether it is ``PREEMPT_RT``."""

    name: str
    preempt_rt: bool

    def __str__(self) -> str:
        return self.name


DEFAULT = KernelConfig("default", False)
RT = KernelConfig("rt", True)
CONFIGS = {c.name: c for c in (DEFAULT, RT)}

_current = contextvars.ContextVar("zsmc_kernel_config", default=DEFAULT)


def resolve(config) -> KernelConfig:
    """``config`` as a KernelConfig: one, a name from :data:`CONFIGS`, or None (default)."""
    return resolve_named(config, KernelConfig, CONFIGS, DEFAULT, "kernel config")


def resolve_named(value, kind, table: dict, default, what: str):
    """``value`` as a ``kind``: one, a name in ``table``, or None (``default``); else a
    UsageError naming ``what`` and the known names (also for checker.memory_model)."""
    if value is None:
        return default
    if isinstance(value, kind):
        return value
    if isinstance(value, str) and value in table:
        return table[value]
    raise UsageError(f"unknown {what} {value!r}; known: {', '.join(table)}")


def current() -> KernelConfig:
    """The configuration of the execution running in this context."""
    return _current.get()


def preempt_rt() -> bool:
    return _current.get().preempt_rt


def activate(config: KernelConfig) -> None:
    """Make ``config`` current (the World, for the execution it runs)."""
    _current.set(config)


@contextlib.contextmanager
def kernel_config(config):
    """Within the block, ``config`` is current (a build that creates locks, a test)."""
    token = _current.set(resolve(config))
    try:
        yield
    finally:
        _current.reset(token)
