"""``no-free-while-mapped``: nothing is freed while mapped, nothing is used after free.

For lifetime objects (:class:`checker.Obj`: a zspage, one of its pages, a
handle) the monitor checks every lifetime step:

* FREE of an object some task pins (``obj.pins`` non-empty: it holds a
  mapping or a read lock on it): *freed while mapped*.  zsmalloc-protocol.md
  section 2.6 ("Why a zspage cannot be freed while one of its objects is being
  accessed") and invariant I4 are the zsmalloc form; hazards 6, 18, 19 and 23
  of section 4 break it.
* FREE of an object already freed: *double free*.
* A reference count that keeps an object alive (``Var.add(-1, frees=obj)``,
  ``put_page``): the step that drops the last reference is the FREE; a put
  on an object already freed is a use after free.
* ACCESS or PIN of an object that is not alive: *use after free*.  The model
  frees the old page's Obj when migration replaces it (section 2.5, step 10),
  so a stale location read through a handle after migration (hazards 1, 18,
  19) is an access to a freed Obj.

* Any other use of memory that lives in a freed object
  (:mod:`checker.memory`): a field of a struct or a container whose owner is
  freed, or a lock or variable embedded in it (taking a freed page's lock,
  reading a freed zspage's counter): *use after free*, at the step that
  does it, naming the field and the kernel function.

These depend on the interleaving, so they are checked in ``on_event`` (the
step has been performed: ``obj.alive`` and ``obj.pins`` are the state after
it) and, for what the task's code touched after the action, in
``on_step_end``.  A FREE sets ``alive`` to False before the monitor runs, so the monitor
remembers, per execution, which objects a FREE step killed; an object freed
for the first time is taken to have been alive before (the engine's
``Event.pre`` is used instead whenever it carries the state).
"""

from __future__ import annotations

from checker import Monitor
from checker import actions as A

_ALLOC, _FREE, _ACCESS, _PIN, _ADD = A.ALLOC, A.FREE, A.ACCESS, A.PIN, A.ADD


class NoFreeWhileMapped(Monitor):
    name = "no-free-while-mapped"
    description = "no zspage, page or handle is freed while mapped, or used after it is freed"

    def __init__(self):
        self._freed = {}      # uid -> (step, task) of the FREE that killed it, this execution
        self._said = None     # (step, uid) of the use after free reported by on_event

    def on_execution_start(self, world):
        self._freed = {}
        self._said = None

    def on_step_end(self, world, ev):
        dead = ev.dead
        if dead is None:
            return
        seen = set()
        for owner, label, kind, fn in dead:
            if owner.uid in seen or self._said == (ev.index, owner.uid):
                continue
            seen.add(owner.uid)
            verb = "writes" if kind == A.W else "uses"
            what = label if label.startswith(owner.name) else f"{label} of {owner.name}"
            self._use_after_free(world, ev, owner, verb, f"{what} (in {fn})")

    def on_event(self, world, ev):
        a = ev.action
        op = a.op
        if op == _ADD:
            if a.arg2 is not None:
                self._put(world, ev)
            return
        if op < _ALLOC or op > _PIN:
            return
        if op == _ACCESS or op == _PIN:
            for o in (a.obj,) + (a.arg2 or ()) if op == _ACCESS else (a.obj,):
                if not o.alive:
                    self._use_after_free(world, ev, o, "maps" if op == _PIN else
                                         ("writes" if a.arg else "reads"))
                    break
        elif op == _FREE:
            o = a.obj
            pre = ev.pre
            was_dead = (pre is False) if isinstance(pre, bool) else o.uid in self._freed
            if was_dead:
                self._use_after_free(world, ev, o, "frees")
            elif o.pins:
                self._freed_while_mapped(world, ev, o)
            elif o.locks:
                self._freed_while_locked(world, ev, o)
            self._freed[o.uid] = (ev.index, ev.task)
        elif op == _ALLOC:
            self._freed.pop(a.obj.uid, None)

    def _put(self, world, ev):
        """A reference count that keeps an object alive changed (``put_page``)."""
        o = ev.action.arg2[0]
        was_alive, alive = ev.fps[1][2], ev.fps[1][3]
        if not was_alive:
            self._use_after_free(world, ev, o, "drops a reference to")
        elif not alive:         # the last reference: this step freed it
            if o.pins:
                self._freed_while_mapped(world, ev, o)
            elif o.locks:
                self._freed_while_locked(world, ev, o)
            self._freed[o.uid] = (ev.index, ev.task)

    def _use_after_free(self, world, ev, o, verb, what=None):
        t = world.tasks[ev.task]
        self._said = (ev.index, o.uid)
        freed = self._freed.get(o.uid)
        steps = [ev.index]
        if freed is None:
            kind = "free of unallocated memory" if verb == "frees" else "use of unallocated memory"
            where = "which was never allocated"
        else:
            steps.insert(0, freed[0])
            kind = "double free" if verb == "frees" else "use after free"
            where = f"already freed by {world.tasks[freed[1]].name}"
        world.report(self.name, f"{kind}: {t.name} {verb} {what or o.name}, {where}",
                     task=ev.task, steps=steps)

    def _freed_while_locked(self, world, ev, o):
        """Memory freed with a lock inside it held ("Bad page state": PG_locked)."""
        held = _freed_while_locked_holders(world, o)
        if not held:
            return
        lk, holders = held[0]
        t = world.tasks[ev.task]
        names = ", ".join(world.tasks[i].name for i in holders)
        world.report(self.name, f"{t.name} frees {o.name} while {lk.name}, which lives in it, is "
                     f"held by {names}", task=ev.task, steps=(ev.index,))

    def _freed_while_mapped(self, world, ev, o):
        t = world.tasks[ev.task]
        mappers = sorted(o.pins)
        names = ", ".join(world.tasks[i].name for i in mappers)
        steps = _pin_steps(world, o, mappers) + [ev.index]
        world.report(self.name, f"{t.name} frees {o.name} while it is mapped by {names}",
                     task=ev.task, steps=steps)


def _freed_while_locked_holders(world, o):
    out = []
    for lk in o.locks:
        holders = ([lk._writer] if lk._writer is not None else []) + sorted(lk._readers)
        if holders:
            out.append((lk, holders))
    return out


def _pin_steps(world, o, tasks) -> list:
    """The PIN steps of ``tasks`` on ``o`` still outstanding (latest first per task)."""
    out = []
    want = set(tasks)
    for ev in reversed(world.events):
        if ev.task in want and ev.action.obj is o and ev.action.op == A.PIN:
            out.append(ev.index)
            want.discard(ev.task)
            if not want:
                break
    return sorted(out)
