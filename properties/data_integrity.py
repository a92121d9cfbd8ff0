"""``data-integrity``: a load returns the last value stored to that handle.

Client tasks label their data operations (the convention of
``checker.label``):

* ``label("store", key=K, value=V)``: the client's write of V to handle K has
  taken effect;
* ``label("load", key=K, value=V)``: the client read V from handle K.

A load must return the value of the last store to K in the execution
(before any store: no load is checked, since the initial contents are the
model's business).  At the end of a complete execution (not a deadlocked one) the model may add its
own findings: ``Program.context.integrity_problems()`` returns a list of
strings (an object lost or duplicated by compaction or migration,
zsmalloc-protocol.md section 2.4 step d and section 2.5 step 7; hazards 1, 6
and 17 of section 4).

*When* a label counts.  Labels have no footprint, so the search may schedule
a label step long after the access it describes.  The monitor therefore
handles a label in ``on_pending``, i.e. at the moment the task yields it,
which is right after the task's previous step: a label stands for the
access performed just before it.  The contract for models is to yield each
label immediately after the step that performs the data access it names (the
write of the object bytes, the read of them); the order of stores and loads
is then the order of those accesses, whatever the scheduler does with the
label steps.
"""

from __future__ import annotations

from checker import Monitor
from checker import actions as A

_LABEL = A.LABEL


class DataIntegrity(Monitor):
    name = "data-integrity"
    description = "every load of a handle returns the value last stored to it; nothing lost or duplicated"

    def __init__(self):
        self._world = None
        self._last = {}       # key -> (value, task index, step after which it took effect)

    def on_pending(self, world, t, a):
        if a.op != _LABEL:
            return
        info = a.arg2
        if info is None or "key" not in info:
            return
        text = a.arg
        if text != "store" and text != "load":
            return
        if world is not self._world:
            # on_pending also runs while the World is being built, before
            # on_execution_start: the World's identity marks a new execution.
            self._world = world
            self._last = {}
        key = info["key"]
        value = info.get("value")
        step = len(world.events) - 1
        if text == "store":
            self._last[key] = (value, t.index, step)
            return
        last = self._last.get(key)
        if last is None or last[0] == value:
            return
        stored, writer, at = last
        steps = [s for s in (at, step) if s >= 0]
        world.report(self.name,
                     f"{t.name} loads {value!r} from handle {key!r}, but the last value stored "
                     f"there is {stored!r} (by {world.tasks[writer].name})",
                     task=t.index, steps=steps)

    def on_execution_end(self, world):
        if world.deadlocked:
            return      # operations stopped half-way; the deadlock is the finding
        fn = getattr(world.program.context, "integrity_problems", None)
        if fn is None:
            return
        problems = fn()
        if problems:
            world.report(self.name, "; ".join(str(p) for p in problems))
