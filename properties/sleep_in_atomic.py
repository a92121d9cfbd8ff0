"""``sleep-in-atomic``: sleeping with a non-zero preempt count.

The kernel's ``CONFIG_DEBUG_ATOMIC_SLEEP`` check ("BUG: sleeping function
called from invalid context", ``__might_sleep``/``__might_resched``): a task
whose preempt count is non-zero must not call ``schedule()``,
``might_sleep()``, ``cond_resched()`` or a sleeping lock that may wait
(``mutex_lock``, ``down_read``/``down_write``, ``lock_page``).

The preempt count is the engine's (``TaskState.pc``): raised by
``preempt_disable()`` and by every spinning lock held (``spinlock_t``,
``rwlock_t``), as on !PREEMPT_RT.  So the legacy mapping section between
``zs_map_object`` and ``zs_unmap_object`` counts as atomic: its per-CPU
``local_lock`` is a ``preempt_disable()`` (zsmalloc-protocol.md section 2.3
(a), section 3 "Context rules"); hazards 4, 14 and 27 of section 4 are the
zsmalloc instances.

On PREEMPT_RT a ``spinlock_t``, ``rwlock_t`` or ``local_lock_t`` no longer raises the
preempt count (its waiters sleep on an rtmutex), but its holder is still in a context that
must not sleep of its own accord: the RT lock runs its section under ``rcu_read_lock()`` and
``migrate_disable()``, so ``__might_resched()`` still reports ``schedule()``,
``might_sleep()`` and ``cond_resched()`` there, and lockdep's wait-type check reports a truly
sleeping lock (mutex, rwsem, page lock) taken inside it (Documentation/locking/
locktypes.rst: "sleeping lock types cannot nest inside CPU local and spinning lock types";
it holds on both configurations).  Taking another RT-sleeping lock inside is fine there
(rtmutex nesting with priority inheritance).  So on RT the check also applies while such a
lock is held, with preempt count 0 (red team round 5: a patch that took ``lock_page`` under
``class->lock`` on RT only passed, because the RT holder counted as preemptible).

A task is also in atomic context inside a kernel function its users may call holding a
spinlock the scenarios do not model (``Program.context.atomic_callers``: ``zs_free``, which
zram calls from its slot-free notification under the swap code's lock, §3 context rules):
there the same rules apply as under a held ``spinlock_t`` (on !RT it would be atomic; on RT
it forbids sleeping of its own accord; taking another spinlock_t is fine on both).

Checked in ``on_pending``: everything that decides it (the task's preempt
count and what it is about to do) belongs to the task, so the verdict does not
depend on the interleaving.  A sleeping lock's *trylock* never sleeps and is
fine; a blocking acquisition is reported even when the lock happens to be
free, as ``might_sleep()`` inside ``mutex_lock`` would.
"""

from __future__ import annotations

from checker import Monitor
from checker import actions as A

from ._report import acquired_at, atomic_reasons, last_step_of, lock_name

_SLEEPS = {A.SLEEP: "schedule()", A.MIGHT_SLEEP: "might_sleep()", A.COND_RESCHED: "cond_resched()"}
_ACQUIRE = A.ACQUIRE
_WAIT = A.WAIT
_MAY_SLEEP = frozenset({_ACQUIRE, _WAIT, *_SLEEPS})


class SleepInAtomic(Monitor):
    name = "sleep-in-atomic"
    description = "no sleeping (schedule, might_sleep, cond_resched, a sleeping lock) in atomic context"
    # A function of the World's state at each step, no state kept (checker/monitor.py).
    replay_pure = True

    def on_pending(self, world, t, a):
        op = a.op
        if op not in _MAY_SLEEP:
            return
        rt_held = caller = None
        if t.pc == 0:
            rt_held = _rt_sleeping_spinlock(t)
            if rt_held is None:
                callers = getattr(world.program.context, "atomic_callers", None)
                if not callers:
                    return
                caller = _ATOMIC_CALLER     # resolved below, once the action may sleep
        if op == _ACQUIRE:
            lk = a.obj
            if lk.spinning or not lk.blocking:
                return
            if (rt_held is not None or caller is not None) and lk.sleeps_on_rt:
                return      # an RT spinlock inside another: rtmutex nesting, allowed
            what = f"takes {lock_name(lk)} ({_sleeping_call(lk, a.arg)}, may sleep)"
        elif op == _WAIT:
            lk = a.obj
            if A.spins(a) or ((rt_held is not None or caller is not None) and lk.sleeps_on_rt):
                return
            what = f"waits for {lock_name(lk)} to be released (may sleep)"
        else:
            what = f"calls {_SLEEPS[op]}"
            if op == A.SLEEP and a.arg and a.arg != "schedule":
                what += f" ({a.arg})"
        if caller is not None:
            caller = _inside(t, callers)
            if caller is None:
                return
            world.report(self.name,
                         f"sleeping function called from invalid context: {t.name} {what} inside "
                         f"{caller}(), which its users may call from atomic context (holding a "
                         f"spinlock: zram frees a slot under the swap code's lock, protocol §3)",
                         task=t.index, steps=_with_last(world, t, []))
            return
        if rt_held is not None:
            s = acquired_at(world, t.index, rt_held)
            world.report(self.name,
                         f"sleeping function called from invalid context: {t.name} {what} while "
                         f"holding {lock_name(rt_held)}, a sleeping lock on PREEMPT_RT that still "
                         f"forbids sleeping inside it (rcu_read_lock, migrate_disable; "
                         f"locktypes.rst nesting rules)",
                         task=t.index, steps=_with_last(world, t, [] if s is None else [s]))
            return
        why, steps = atomic_reasons(world, t)
        world.report(self.name,
                     f"sleeping function called from invalid context: {t.name} {what} "
                     f"with preempt count {t.pc}, {why}",
                     task=t.index, steps=_with_last(world, t, steps))


def _sleeping_call(lk, shared: bool) -> str:
    """The kernel call a blocking acquisition of ``lk`` stands for."""
    kind = lk.kind
    if kind == "mutex":
        return "mutex_lock"
    if kind == "rw_semaphore":
        return "down_read" if shared else "down_write"
    if kind == "page lock":
        return "lock_page"
    return "read acquire" if shared else "acquire"


def _rt_sleeping_spinlock(t):
    """The innermost ``spinlock_t``/``rwlock_t``/``local_lock_t`` task ``t`` holds while it
    sleeps on PREEMPT_RT (not spinning now), or None: inside one, sleeping of its own
    accord is invalid on RT too.  (On !RT such a lock raises the preempt count.)"""
    for lk, _ in reversed(t.held):
        if lk.sleeps_on_rt and lk.blocking and not lk.spinning:
            return lk
    return None


def _with_last(world, t, steps):
    last = last_step_of(world, t.index)
    if last is not None and last not in steps:
        steps.append(last)
    return sorted(steps)


_ATOMIC_CALLER = object()


def _inside(t, names):
    """The outermost function of ``names`` task ``t`` is running (its generator frames,
    through ``yield from``), or None."""
    gen = t.gen
    while gen is not None:
        code = getattr(gen, "gi_code", None)
        if code is None:
            return None
        if code.co_name in names:
            return code.co_name
        gen = getattr(gen, "gi_yieldfrom", None)
    return None
