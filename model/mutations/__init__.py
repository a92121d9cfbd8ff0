"""Seeded bugs: the catalogue of zsmalloc-protocol.md section 4 as mutations.

Each expressible entry is a subclass of one built-in version (model.versions)
that overrides only the kernel functions the bug changes; the class docstring
gives the origin (commit or review) and the property the bug must violate.
Entries the model cannot express are registered with ``expressible=False`` and
the reason, so ``zsmc list mutations`` shows them too.  Properties are names of
checker.monitor.REGISTRY, ``"bug"`` (a model BUG_ON/VM_BUG_ON) or ``"deadlock"``.
"""

from __future__ import annotations

# Importing a submodule registers its mutations (model.registry imports this package
# at its end, so the registry is complete by the time anyone reads MUTATIONS).
from . import (access, compact, deferred, free, inexpressible, irq, locking, migrate, ordering,  # noqa: F401
               rt)
