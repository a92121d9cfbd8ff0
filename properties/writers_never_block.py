"""``writers-never-block``: the zspage lock's writers only trylock and are always atomic.

The rules of the zspage lock (zsmalloc-protocol.md section 3, "Rules of the
(c) zspage lock", and the v5 wording):

* rule 3, *writers always use trylock*: an exclusive acquisition that would
  wait (spin or sleep) instead of failing is a violation (hazard 15 of
  section 4: a blocking writer spins in atomic context for as long as a reader
  sleeps);
* rule 2, *writers are always atomic*: while a task holds the write side it
  must not sleep (``schedule()``), call ``cond_resched()``/``might_sleep()``,
  start a blocking acquisition of a sleeping lock or a ``spin_until`` wait, and it
  must not be preemptible (hazard 14: readers spin on a writer, so a
  preempted writer makes them spin for ever).

Readers may spin and may sleep while holding (rules 4 and 5): never reported.

A writer may also wait for readers without touching the zspage lock: spin on
the reader count, or re-read it in a loop (which the engine turns into a
spin, see ``World``), while it holds the locks that make it a writer.  So
rule 2 also holds from the moment a task holds a *writer context* lock
(``Program.context.writer_context_locks``: ``pool->lock`` taken for write,
which compaction and migration hold whenever they take the zspage write
lock): no spin on a value, no wait for a lock to be released, no sleeping
lock, no sleep.  Spinning locks stay allowed (their holders are atomic).
This is reported on every CPU count, whether or not the wait deadlocks.

Which lock is "the zspage lock" comes from the model:
``Program.context.writer_trylock_locks`` is a set of lock class names
(``{"zspage->lock"}``).  A lock of such a class may be an engine lock
(``SpinLock``/``RwLock``) or a ``LockMap`` annotation, as the upstream and v5
models annotate their hand-built lock like the kernel does
(``rwsem_acquire(..., trylock=1)``, ``rwsem_acquire_read``, ``rwsem_release``,
section 1 (b)/(c)).  The property applies only to programs that name such
classes.

Everything is checked in ``on_pending``, which runs right after each step of
the task with the task's state after it: the verdict depends on the task
alone, never on the interleaving.  "Preemptible" means: after one of its
steps the task's preempt count is 0 while it still holds the write side.
"""

from __future__ import annotations

from checker import Monitor
from checker import actions as A
from checker.objects import Lock

from ._report import acquired_at, last_step_of, lock_name

_SLEEPS = {A.SLEEP: "sleeps (schedule())", A.MIGHT_SLEEP: "calls might_sleep()",
           A.COND_RESCHED: "calls cond_resched()"}
_ACQUIRE, _SPIN = A.ACQUIRE, A.SPIN
_WAITS = frozenset({_ACQUIRE, _SPIN, A.WAIT, *_SLEEPS})      # the actions that may wait


class WritersNeverBlock(Monitor):
    name = "writers-never-block"
    description = "zspage lock writers only trylock, and never sleep, wait or get preempted while holding"
    # A function of the World's state at each step, no state kept (checker/monitor.py).
    replay_pure = True

    def __init__(self):
        self._classes = frozenset()
        self._context = frozenset()
        self._world = None

    def applies(self, program) -> bool:
        return bool(getattr(program.context, "writer_trylock_locks", None))

    def on_pending(self, world, t, a):
        if world is not self._world:
            # on_pending also runs while the World is being built, before
            # on_execution_start: the World's identity marks a new execution.
            self._world = world
            ctx = world.program.context
            self._classes = frozenset(getattr(ctx, "writer_trylock_locks", None) or ())
            self._context = frozenset(getattr(ctx, "writer_context_locks", None) or ())
        classes = self._classes
        if not classes:
            return
        events = world.events
        if events and events[-1].task == t.index:
            last = events[-1]
            lop = last.action.op
            if lop in _WORD_OPS or (lop in _MAP_OPS and not last.action.obj.blocking):
                self._annotation_gap(world, t, last, classes)
        op = a.op
        if t.pc and op not in _WAITS:
            return      # atomic and not about to wait: nothing to check (the common case)
        if op == _ACQUIRE and not a.arg and a.obj.cls in classes:
            lk = a.obj
            self._report(world, t, f"{t.name} takes {lock_name(lk)} for write with a blocking "
                         f"acquisition; writers must only trylock it and handle failure (rule 3)",
                         [])
            return
        held = t.held
        if not held:
            return
        wl = None
        for lk, shared in held:
            if not shared and lk.cls in classes:
                wl = lk
                break
        if wl is None:
            context = self._context
            if context:
                for lk, shared in held:
                    if not shared and lk.cls in context:
                        self._context_wait(world, t, a, lk)
                        break
            return
        what = None
        if op in _SLEEPS:
            what = _SLEEPS[op]
        elif op == _ACQUIRE and a.obj.blocking and _may_sleep_for(a.obj):
            lk = a.obj
            what = f"may sleep waiting for {lock_name(lk)}{' (read)' if a.arg else ''}"
        elif op == A.WAIT:
            lk = a.obj
            what = f"may {'spin' if A.spins(a) else 'sleep'} waiting for {lock_name(lk)} to be released"
        elif op == _SPIN:
            what = f"spins waiting on {a.obj.name}"
        if what is not None:
            self._report(world, t, f"{t.name} {what} while holding {lock_name(wl)} for write; "
                         f"writers never wait (rule 2, writers are always atomic)",
                         [acquired_at(world, t.index, wl)])
        if t.pc == 0 and t.seq and not _readers_block(t, wl):
            self._report(world, t, f"{t.name} is preemptible while holding {lock_name(wl)} for write "
                         f"(preempt count 0); a reader spinning on it could spin for ever "
                         f"(rule 2, writers are always atomic)",
                         [acquired_at(world, t.index, wl)])

    def _annotation_gap(self, world, t, ev, classes):
        """A writer preemptible while its lock *word* says it holds the lock, outside the
        lockdep annotation the rest of this property follows.

        A zspage lock that is nothing but a variable (v5's ``atomic_t``) is held from
        the write that sets it to the writer's value until the write that clears it; the
        annotation (``rwsem_acquire``/``rwsem_release`` on the ``lockdep_map`` that lives in
        the same object) is only where the code says so.  Rather than trust that the two
        coincide, the task's own steps are checked: from its last change of such a word
        before an exclusive annotation, and from an exclusive annotation's release to its
        next change of the word, the task must stay atomic (rule 2), as within the
        annotation.  (Red team round 5: v5's trylock with ``preempt_disable()`` moved
        after the cmpxchg passed on RT: the window preceded the annotation.)
        """
        a = ev.action
        obj = a.obj
        owner = getattr(obj, "owner", None)
        if owner is None or any(lk.blocking for lk in owner.locks):
            # A lock with a real lock inside ((c)'s zsl->lock, held across the write
            # section) keeps its writer atomic through that lock; readers spin on it, not on
            # the word.  Only a lock that is nothing but its word ((b)) is followed here.
            return
        if a.op in _MAP_OPS:
            if a.op == A.RELEASE or a.arg or not (a.op != A.TRYLOCK or ev.result):
                return
            if obj.cls not in classes:
                return
            # an exclusive annotation just taken: back to the word's change that took the lock
            steps = []
            mine = [e for e in world.events if e.task == t.index]
            for k in range(len(mine) - 1, -1, -1):
                e = mine[k]
                steps.append(e)
                if _changes_word_of(e, obj.owner):
                    if not _takes_word(mine, k, obj):
                        return      # the change was the last section's unlock: annotated first
                    break
            else:
                return
            if t.pc == 0 and not _readers_block(t, obj):
                return              # preemptible within the annotation too: reported as such
            steps = steps[1:]       # the annotation's own step: the check of the hold covers it
            where = "before its lockdep annotation"
            lock = obj
        else:
            if ev.pre == ev.post:
                return
            maps = [lk for lk in owner.locks if not lk.blocking and lk.cls in classes]
            if not maps:
                return
            # a change of the word: was an exclusive annotation released since the last one?
            steps = []          # from the release to the step before this one
            released = None
            mine = [e for e in world.events[:-1] if e.task == t.index]
            k = len(mine) - 1
            while k >= 0:
                e = mine[k]
                if _changes_word_of(e, owner):
                    return
                steps.append(e)
                if e.action.op == A.RELEASE and e.action.obj in maps and _exclusive_release(e):
                    released = e.action.obj
                    break
                k -= 1
            if released is None:
                return
            # the word must still have held the lock at the release: no change of it between
            # the annotation's acquisition and its release (else it was cleared first)
            for e in reversed(mine[:k]):
                if _changes_word_of(e, owner):
                    return
                if e.action.obj is released and _exclusive_take(e):
                    break
            else:
                return
            where = "after its lockdep annotation was released"
            lock = released
        for e in steps:
            if e.pc == 0 and not _readers_block(t, lock):
                self._report(world, t, f"{t.name} is preemptible while holding {lock_name(lock)} for "
                             f"write (preempt count 0, {where}: its lock word still holds it); a "
                             f"reader spinning on it could spin for ever (rule 2, writers are "
                             f"always atomic)", [e.index])
                return

    def _context_wait(self, world, t, a, ctx):
        """A writer (holding ``ctx`` for write) about to wait for another task."""
        op = a.op
        what = None
        if op == _SPIN:
            what = f"spins waiting on {a.obj.name}"
        elif op == A.WAIT:
            what = f"waits for {lock_name(a.obj)} to be released"
        elif op == _ACQUIRE and a.obj.blocking and _may_sleep_for(a.obj):
            what = f"may sleep waiting for {lock_name(a.obj)}"
        elif op in _SLEEPS:
            what = _SLEEPS[op]
        if what is not None:
            self._report(world, t, f"{t.name} {what} while holding {lock_name(ctx)} for write, as a "
                         f"writer of the zspage lock; writers never wait for other tasks (rules 2 "
                         f"and 3: a reader may sleep for as long as it likes)",
                         [acquired_at(world, t.index, ctx)])

    def _report(self, world, t, message, steps):
        last = last_step_of(world, t.index)
        steps = [s for s in steps if s is not None]
        if last is not None and last not in steps:
            steps.append(last)
        world.report(self.name, message, task=t.index, steps=sorted(steps))


_WORD_OPS = frozenset({A.WRITE, A.RMW, A.CMPXCHG, A.ADD})
_MAP_OPS = frozenset({A.ACQUIRE, A.TRYLOCK, A.RELEASE})


def _changes_word_of(e, owner) -> bool:
    """Whether event ``e`` changed a variable that lives in ``owner`` (a lock word)."""
    a = e.action
    return (a.op in _WORD_OPS and getattr(a.obj, "owner", None) is owner
            and not isinstance(a.obj, Lock) and e.pre != e.post)


def _takes_word(mine, k, lock) -> bool:
    """Whether the change of the lock word at ``mine[k]`` (the task's own events) starts
    a hold rather than ends the last one: an exclusive release of ``lock`` since the
    task's change before it means that section ended with this change."""
    for e in reversed(mine[:k]):
        if _changes_word_of(e, lock.owner):
            return True
        if e.action.obj is lock and e.action.op == A.RELEASE and _exclusive_release(e):
            return False
    return True


def _exclusive_take(e) -> bool:
    """Whether event ``e`` took its lock (a lockdep map) exclusively."""
    a = e.action
    return (a.op == A.ACQUIRE or (a.op == A.TRYLOCK and e.result)) and not a.arg


def _exclusive_release(e) -> bool:
    """Whether a release event dropped its task's exclusive hold of a lockdep map."""
    pre = e.pre
    return bool(pre) and pre[0] == e.task


def _may_sleep_for(lk) -> bool:
    """Whether waiting for ``lk`` may last as long as its holder likes: a sleeping lock
    (mutex, rwsem, page lock).  A spinning lock's holders are atomic and leave it soon, so
    a writer spinning for one is still atomic and bounded (rule 2 holds); if a holder
    waits for the writer in turn, that cycle is the ``deadlock`` / ``lock-order``
    property's to report.  A spinlock that sleeps on PREEMPT_RT is still a spinlock
    here: its holder never sleeps of its own accord, and the wait inherits priority
    (taking one inside an explicit ``preempt_disable()`` is ``sleep-in-atomic``'s)."""
    return not lk.spinning and not lk.sleeps_on_rt


def _readers_block(t, wl) -> bool:
    """On PREEMPT_RT, whether readers that meet ``t``'s write section block on a lock
    ``t`` holds (a sleeping spinlock_t of the same zspage, as 6.15's ``zsl->lock``):
    they then sleep with priority inheritance instead of spinning, so the writer may
    be preempted (protocol section 4 #26: "readers block with PI").  On !RT every
    such lock spins and keeps the writer atomic: never."""
    owner = wl.owner
    if owner is None:
        return False
    return any(not shared and lk.sleeps_on_rt and not lk.spinning and lk.owner is owner
               for lk, shared in t.held)
