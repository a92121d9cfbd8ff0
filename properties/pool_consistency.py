"""``pool-consistency``: the pool's lists and counters agree whenever no class lock is held.

The model supplies the check and says when it must hold:

* ``Program.context.consistency_problems()`` returns a list of strings, empty
  when the pool is consistent: each zspage is on the fullness list its
  ``inuse`` implies (or on the deferred-free list), the per-fullness counters
  equal the list lengths, ``OBJS_INUSE`` equals the sum of ``inuse``, and
  every live handle points at an allocated slot that records that handle
  (zsmalloc-protocol.md section 4, invariants I5 and I6; hazards 5, 9, 12 and
  22 break them);
* ``Program.context.consistency_locks`` is a set of lock class names
  (``{"class->lock"}``): the pool is only required to be consistent at
  *quiescent* points, where no task holds a lock of one of these classes;
* ``Program.context.end_problems()``, optional: what must hold once every task
  is done (invariant I7: an empty zspage left for the deferred free has the
  free work pending), checked at the end of every complete execution.

When the check runs.  The pool changes under these locks, so the monitor
checks after each release that leaves no such lock held by any task, and at
the end of every complete execution.  Checking after every quiescent step
would cost a full pool walk per step for nothing: a step that takes or
releases no such lock cannot turn an inconsistent pool, found at the next
quiescent release or at the end, into a consistent one unless a bug also
repairs it outside the lock.  Without ``consistency_locks`` the pool is
checked at the end of each execution only.
"""

from __future__ import annotations

from checker import Monitor
from checker import actions as A


class PoolConsistency(Monitor):
    name = "pool-consistency"
    description = "fullness lists and class counters agree with the zspages when no class lock is held"
    # A function of the World's state at each step, no state kept (checker/monitor.py).
    replay_pure = True

    def __init__(self):
        self._classes = frozenset()
        self._check = None

    def applies(self, program) -> bool:
        return callable(getattr(program.context, "consistency_problems", None))

    def on_execution_start(self, world):
        ctx = world.program.context
        self._check = getattr(ctx, "consistency_problems", None)
        self._classes = frozenset(getattr(ctx, "consistency_locks", None) or ())

    def on_event(self, world, ev):
        a = ev.action
        if a.op != A.RELEASE:
            return
        classes = self._classes
        if a.obj.cls not in classes or self._check is None:
            return
        for t in world.tasks:
            for lk, _ in t.held:
                if lk.cls in classes:
                    return
        self._run(world, f"after {world.tasks[ev.task].name} released {a.obj.name}", ev.index)

    def on_execution_end(self, world):
        if self._check is not None and not world.deadlocked:
            self._run(world, "at the end of the execution", None)
            end = getattr(world.program.context, "end_problems", None)
            problems = end() if end is not None else ()
            if problems:
                world.report(self.name, "pool inconsistent at the end of the execution: "
                             + "; ".join(str(p) for p in problems))

    def _run(self, world, when, step):
        problems = self._check()
        if problems:
            world.report(self.name, f"pool inconsistent {when}: " + "; ".join(str(p) for p in problems),
                         steps=() if step is None else (step,))
