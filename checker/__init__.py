"""zsmc's generic engine: kernel-style tasks on CPUs, explored exhaustively.

``checker`` knows nothing of zsmalloc: any kernel locking scheme can be
modelled with it.  The public API is this module's ``__all__`` (pinned by a
test); everything else is internal.
"""

from . import actions, atomics, interrupts, memory_model
from .actions import (Action, access, alloc, choose, cond_resched, free, label, local_bh_disable,
                      local_bh_enable, local_irq_disable, local_irq_enable, might_sleep, pin,
                      preempt_disable, preempt_enable, sleep, unpin)
from .errors import InternalError, ModelError, UsageError, ZsmcError
from .coverage import covered, traced
from .explore import explore
from .memory import SharedDict, SharedList, shared_struct
from .monitor import Monitor, register
from .config import KernelConfig
from .memory_model import MemoryModel
from .objects import (LocalLock, LockMap, Mutex, Obj, PageLock, RawSpinLock, RwLock, RwSemaphore,
                      SpinLock, Var)
from .program import Program, Task
from .result import Result, Step, Violation
from .world import Bug, Event, World

__all__ = [
    "Action", "Bug", "actions", "atomics", "interrupts", "memory_model", "MemoryModel", "Event", "InternalError", "KernelConfig", "LocalLock", "LockMap",
    "ModelError", "Monitor", "Mutex", "Obj", "PageLock", "Program", "RawSpinLock", "Result", "RwLock",
    "RwSemaphore", "SharedDict", "SharedList",
    "SpinLock", "Step", "Task",
    "UsageError", "Var", "Violation", "World", "ZsmcError", "access", "alloc", "choose",
    "cond_resched", "covered", "explore", "free", "label", "local_bh_disable", "local_bh_enable",
    "local_irq_disable", "local_irq_enable", "might_sleep", "pin", "preempt_disable",
    "preempt_enable", "register", "shared_struct", "sleep", "traced", "unpin",
]

__version__ = "0.1.0"
