"""``lock-balance``: a task that returns holds nothing.

When a task's generator returns (``on_task_finish``) it must hold no lock
(``t.held`` is empty: every ``spin_lock``/``read_lock``/``mutex_lock``/lockdep
annotation was released), its preempt count must be 0 (every
``preempt_disable()`` matched by a ``preempt_enable()``; spinning locks still
held are reported as locks), and it must pin no :class:`checker.Obj` (every
mapping taken with ``pin()`` ended with ``unpin()``: for zsmalloc, every
``zs_map_object``/``zs_obj_read_begin`` has its ``zs_unmap_object``/
``zs_obj_read_end``, zsmalloc-protocol.md section 2.3).

Pins are found through the task's PIN steps, scanned when it finishes (the
engine keeps pins on the object, not on the task; one tight scan per task is
cheaper than a hook on every step).  The report points at
the step that took each leaked lock and the outstanding ``preempt_disable``.
"""

from __future__ import annotations

from checker import Monitor
from checker import actions as A

from ._report import held_locks, preempt_disabled_at, steps_of


class LockBalance(Monitor):
    name = "lock-balance"
    description = "a finished task holds no lock, has preempt count 0 and no mapping left"

    def on_task_finish(self, world, t):
        problems = []
        steps = []
        if t.held:
            held = held_locks(world, t)
            problems.append("still holds " + ", ".join(d for d, _ in held))
            steps.extend(steps_of(held))
        if t.explicit:
            problems.append(f"returns with preempt count {t.pc} "
                            f"({t.explicit} preempt_disable() without preempt_enable())")
            steps.extend(preempt_disabled_at(world, t))
        i = t.index
        pinned = _pinned_by(world, i)
        if pinned:
            left = [o for o in pinned if o.pins.get(i)]
            if left:
                problems.append("still maps " + ", ".join(
                    f"{o.name}" + (f" ({o.pins[i]} times)" if o.pins[i] > 1 else "") for o in left))
                steps.extend(_pin_steps(world, i, left))
        if problems:
            world.report(self.name, f"{t.name} returned but " + "; ".join(problems),
                         task=t.index, steps=sorted(set(steps)))


def _pinned_by(world, task) -> list:
    """The distinct objects ``task`` pinned in this execution, in order."""
    seen = {}
    for ev in world.events:
        if ev.task == task and ev.action.op == A.PIN:
            o = ev.action.obj
            seen[o.uid] = o
    return list(seen.values())


def _pin_steps(world, task, objs):
    want = {o.uid for o in objs}
    return [ev.index for ev in world.events
            if ev.task == task and ev.action.op == A.PIN and ev.action.obj.uid in want]
