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

A busy-wait that cannot end while its task keeps the CPU is reported too, when it starts
(``on_pending``): a task that is preemptible (preempt count 0) and busy-waits, a trylock
retried in a ``cpu_relax()`` loop (the wait :mod:`checker.retryloop` puts in its place),
for a lock held by a task of its own CPU.  The holder was preempted (or sleeps) holding
it; the engine lets it run again because it gives every runnable task of a CPU its turn,
but the kernel does not when the spinner has the higher priority (a SCHED_FIFO task, an
interrupt-thread, zram's caller on PREEMPT_RT): nothing ever preempts the spinner, the
holder never releases the lock.  This is why PREEMPT_RT forbids trylock loops on
``spinlock_t`` (a sleeping, preemptible lock there: a blocking acquisition would boost the
holder by priority inheritance), and it is hazard 14 of section 4 ("an RT-priority reader
on the writer's CPU").  (Red team round 5: a zspage read lock taking ``zsl->lock`` with a
trylock loop passed on RT.)  On !PREEMPT_RT the holder of a ``spinlock_t`` is atomic and
cannot be preempted by a task of its CPU, so this is met only where a lock's holder is
preemptible: a sleeping lock, or any lock on RT.
"""

from __future__ import annotations

from checker import Monitor
from checker import actions as A

from ._report import acquired_at, last_step_of


class Deadlock(Monitor):
    name = "deadlock"
    description = "some task can always make progress until all have finished"
    # on_pending judges the World's state at the step, no state kept (checker/monitor.py).
    replay_pure = True

    def on_pending(self, world, t, a):
        if a.op != A.WAIT or a.arg2 is None or t.pc or not world.shared_cpu[t.cpu]:
            return      # only a preemptible task's busy-wait for a retried trylock
        lk = a.obj
        holders = [lk._writer] if lk._writer is not None else []
        if not a.arg:
            holders.extend(lk._readers)
        tasks = world.tasks
        same = [h for h in holders if h != t.index and tasks[h].cpu == t.cpu and not tasks[h].finished]
        if not same:
            return
        h = tasks[same[0]]
        steps = [s for s in (acquired_at(world, h.index, lk), last_step_of(world, t.index))
                 if s is not None]
        world.report(self.name,
                     f"livelock: {t.name} (cpu{t.cpu}) busy-waits in a trylock loop ({a.arg2}) for "
                     f"{lk.kind} {lk.name}, held by {h.name}, which was preempted on the same CPU; "
                     f"a spinner of higher priority never lets it run again (a busy-wait gets no "
                     f"priority inheritance: block on the lock instead)",
                     task=t.index, steps=sorted(set(steps)))

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
