"""The race analysis's view of an execution, kept across executions and cut back.

Each dpor execution replays the steps of the one before it up to the node
the search branched at, so the happens-before of that prefix (vector clocks,
direct dependences) and the per-object and per-CPU histories
(:class:`~checker.schedulers.reversal.RaceReversal`'s ``hist``, ``ops``,
``cpu_oc``, ``cpu_all``) are the same as last time.  Building them anew is
most of the analysis's cost (an execution of ``free-migrate`` at depth 2 has
about a hundred steps, of which a few are new), so :class:`PrefixRelation`
keeps them and, for the next execution, undoes the steps past the prefix it
shares with it and adds the new ones.

The shared prefix is found, not trusted: it is the longest common run of
event keys (task, value of a choice), which name one step each from one
state (a model's ``build()`` is deterministic: replay checks it).  So a search
that rewrites its nodes (work stealing, a reset without guarded sections,
whose steps differ: it makes a new scheduler state and so a new relation)
costs at most a rebuild.  The result is the relation a fresh build gives,
dictionary order included (tests/test_prefix_relation.py).
"""

from __future__ import annotations

from ..actions import R
from ..dependence import Dependences, footprint, step_cpu

_ABSENT = object()


class PrefixRelation:
    """The fine relation (:class:`~checker.dependence.Dependences`, no invisible
    steps) and the histories of the last execution analysed."""

    __slots__ = ("ntask", "deps", "keys", "hist", "ops", "cpu_oc", "cpu_all", "_undo")

    def __init__(self, ntask: int):
        self.ntask = ntask
        self.deps = Dependences(ntask)
        self.keys = []          # each step's (task, choice)
        self.hist = {}          # object -> the steps that changed it
        self.ops = {}           # object -> every step on it
        self.cpu_oc = {}        # shared CPU -> the steps that changed its ownership
        self.cpu_all = {}       # shared CPU -> every step interacting through it
        self._undo = []         # per step: (dict, key, value before, its length) to restore

    def update(self, evs) -> Dependences:
        """Make the relation ``evs``'s (an execution's scheduled steps); returns it."""
        keys = self.keys
        n = len(evs)
        m = 0
        limit = min(n, len(keys))
        while m < limit and keys[m] == (evs[m].task, evs[m].choice):
            m += 1
        self._cut(m)
        for j in range(m, n):
            self._add(j, evs[j])
        return self.deps

    def _add(self, j, e) -> None:
        objs = footprint(e)
        c = step_cpu(e)
        d = self.deps
        ops, hist = self.ops, self.hist
        saved = []
        for o, kind in objs:
            saved += (_save(d.last_w, o), _save(d.reads, o), _save(ops, o))
            if kind != R:
                saved.append(_save(hist, o))
        if c >= 0:
            saved += (_save(d.last_oc, c), _save(d.since_oc, c), _save(self.cpu_all, c))
            if e.xoc:
                saved.append(_save(self.cpu_oc, c))
        d.add(e, objs, c)
        for o, kind in objs:
            ops.setdefault(o, []).append(j)
            if kind != R:       # a write or an addition: it changes the object
                hist.setdefault(o, []).append(j)
        if c >= 0:
            if e.xoc:
                self.cpu_oc.setdefault(c, []).append(j)
            self.cpu_all.setdefault(c, []).append(j)
        self._undo.append(saved)
        self.keys.append((e.task, e.choice))

    def _cut(self, m: int) -> None:
        """Forget the steps from ``m`` on, newest first."""
        d = self.deps
        undo = self._undo
        for j in range(len(undo) - 1, m - 1, -1):
            for dct, k, v, size in reversed(undo[j]):
                if v is _ABSENT:
                    dct.pop(k, None)    # (saved twice if the step touches it twice)
                else:
                    dct[k] = v
                    if size >= 0:
                        del v[size:]
            d.last_of_task[d.task_of[j]] = d.prev[j]
        for lst in (undo, self.keys, d.clocks, d.preds, d.prev, d.task_of):
            del lst[m:]


def _save(dct, k) -> tuple:
    """What restores ``dct[k]``: the value (a list: the object, cut back to its
    length then; an int is kept as is) or its absence."""
    v = dct.get(k, _ABSENT)
    return (dct, k, v, len(v) if type(v) is list else -1)
