"""Shared wording for violation messages (not a property).

Messages use the words of a kernel review ("spinlock_t class->lock",
"read_lock", "preempt count 1") and keep step numbers out of the text: the
steps a violation points at go to ``world.report(steps=...)``, so the engine
can merge the same violation met in many executions into one.
"""

from __future__ import annotations

from checker import actions as A


def lock_name(lock) -> str:
    """``spinlock_t class->lock``; the class is shown when it differs from the name."""
    cls = lock.cls
    if cls != lock.name:
        return f"{lock.kind} {lock.name} (class {cls})"
    return f"{lock.kind} {lock.name}"


def acquired_at(world, task: int, lock):
    """Index of the step at which ``task`` took the hold it still has on ``lock``, or None.

    Scans the execution backwards: called only when a violation is reported.
    """
    for ev in reversed(world.events):
        if ev.task != task or ev.action.obj is not lock:
            continue
        op = ev.action.op
        if op == A.ACQUIRE or (op == A.TRYLOCK and ev.result):
            return ev.index
    return None


def held_locks(world, t):
    """``[(description, step)]`` for every lock task ``t`` holds, innermost last."""
    out = []
    for lk, shared in t.held:
        how = " (read)" if shared and lk.rw else ""
        out.append((lock_name(lk) + how, acquired_at(world, t.index, lk)))
    return out


def steps_of(pairs) -> list:
    """The non-None step indices of ``[(anything, step)]``."""
    return [s for _, s in pairs if s is not None]


def last_step_of(world, task: int):
    """Index of ``task``'s latest step, or None before its first."""
    for ev in reversed(world.events):
        if ev.task == task:
            return ev.index
    return None


def preempt_disabled_at(world, t) -> list:
    """Steps of task ``t``'s ``preempt_disable()`` calls not yet matched by an enable."""
    want = t.explicit
    out = []
    skip = 0
    if want <= 0:
        return out
    for ev in reversed(world.events):
        if ev.task != t.index:
            continue
        op = ev.action.op
        if ev.action.arg is not None:
            continue        # local_irq_* / local_bh_*: not a preempt_disable()
        if op == A.PREEMPT_ENABLE:
            skip += 1
        elif op == A.PREEMPT_DISABLE:
            if skip:
                skip -= 1
            else:
                out.append(ev.index)
                if len(out) == want:
                    break
    out.reverse()
    return out


def atomic_reasons(world, t):
    """Why task ``t`` is atomic: ``(text, steps)`` naming spinning locks and preempt_disable."""
    parts = []
    steps = []
    for lk, shared in t.held:
        if lk.spinning:
            s = acquired_at(world, t.index, lk)
            how = " (read)" if shared else ""
            parts.append(f"holding {lock_name(lk)}{how}")
            if s is not None:
                steps.append(s)
    if t.explicit:
        pd = preempt_disabled_at(world, t)
        parts.append(f"inside preempt_disable() (depth {t.explicit})")
        steps.extend(pd)
    irq = getattr(t, "irq", None)
    if irq is not None:
        parts.append(f"in {'hard interrupt' if irq == 'hard' else 'softirq'} context")
    if getattr(t, "irqs_off", 0) > (irq == "hard"):
        parts.append("with interrupts disabled (local_irq_disable)")
    if getattr(t, "bh_off", 0) > (irq == "soft"):
        parts.append("with bottom halves disabled (local_bh_disable)")
    return ", ".join(parts) or "preempt count raised", sorted(set(steps))
