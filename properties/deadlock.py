"""``deadlock``: no task can take a step while some task is unfinished.

The engine detects the state (``World.enabled()`` is empty and not every
task has finished) and calls ``on_deadlock`` with
``World.blocked_description()``.  The report lists, for every unfinished
task, its pending action and what it waits for: the holders of the lock it
spins or sleeps on, the variable it spins on (and that it keeps its CPU with
preemption disabled), or the atomic task that owns its CPU.  It points at the
steps where each awaited lock was taken and each blocked task's last step.

This covers the zsmalloc deadlocks of zsmalloc-protocol.md section 4: the
legacy ``lock_zspage`` variant that sleeps on a page lock inside the zspage
rwlock (hazard 4), a blocking writer against a reader that needs the pool or
class lock (hazard 15), a reader spinning on a preempted writer on one CPU
(hazard 14), the pool-lock ABBA of hazard 21.  ``lock-order`` reports the
ordering problems behind most of them even in runs where no deadlock happens.
"""

from __future__ import annotations

from checker import Monitor
from checker import actions as A

from ._report import acquired_at, last_step_of


class Deadlock(Monitor):
    name = "deadlock"
    description = "some task can always make progress until all have finished"

    def on_deadlock(self, world, blocked):
        if not blocked:
            return
        lines = []
        steps = []
        tasks = world.tasks
        for index, name, action, why in blocked:
            t = tasks[index]
            lines.append(f"  {name} (cpu{t.cpu}) is stuck in {action}: {why or 'cannot run'}")
            last = last_step_of(world, index)
            if last is not None:
                steps.append(last)
            a = t.pending
            if a is not None and (a.op == A.ACQUIRE or a.op == A.WAIT):
                lk = a.obj
                holders = ([lk.writer] if lk.writer is not None else []) + list(lk.readers)
                for h in holders:
                    s = acquired_at(world, h, lk)
                    if s is not None:
                        steps.append(s)
        names = ", ".join(name for _, name, _, _ in blocked)
        head = f"deadlock: no task can run while {names} {'has' if len(blocked) == 1 else 'have'} not finished"
        world.report(self.name, "\n".join([head] + lines), task=blocked[0][0],
                     steps=sorted(set(steps)))
