"""How many distinct states a scenario's explored executions pass through (issue 14).

Targets 2 and 3 of issue 14 need more than a reduction of traces: at depth 2
``free-deferred`` alone has 117,184 Mazurkiewicz traces (docs/benchmarks.md,
"Why free-deferred has so many traces").  A stateful search (state caching)
explores each state's successors once, however many traces lead there.  This
tool measures what that could be worth before anyone builds it: it runs the
unsplit dpor search of one scenario and, after every step, computes a
canonical key of the whole state, then prints

* the *tree nodes*: distinct schedule prefixes the search ran (each step of
  each execution that is not a replay of an earlier execution's prefix);
* the *states*: distinct keys over all those nodes;
* the *edges*: distinct (state, step) pairs, what a stateful search without
  reduction would run, each reached by a replay of a path to its state;
* the same counts with a task's *history* (its steps' results in order) in
  place of its frames, the stricter identity a stateful search gets for free.

The key is the model's heap reachable from the pool and from each task's
generator frames (each frame's code, position and locals), every
:class:`~checker.objects.Shared` object by its uid (uids are per task and per
build, so equal histories give equal uids), and each task's engine state
(preempt count, held locks, pending action).  It leaves out what a real
stateful search would have to carry too: the race detector's vector clocks
and the monitors' history (lock-order's graph), so the counts here are a
lower bound on the states such a search meets, an upper bound on its saving.

    python -m bench.state_space --scenario free-deferred --depth 1 --cpus 2
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import types

if __package__ in (None, ""):     # run as a script: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from checker import explore
from checker.monitor import Monitor
from checker.objects import Shared
from model.registry import make_build, variant_for

_PLAIN = (type(None), bool, int, float, str, bytes, range)


class _Canon:
    """One state's canonical form: shared objects by uid, everything else by value."""

    def __init__(self):
        self.heap = {}          # uid -> canonical contents (each Shared object once)
        self.seen = {}          # id -> canonical id of a non-shared object already walked
        self.keep = []          # keeps walked objects alive while ids are compared

    def value(self, v):
        t = type(v)
        if t in _PLAIN:
            return v
        if t is tuple or t is list:
            return (t.__name__,) + tuple(self.value(x) for x in v)
        if t is frozenset or t is set:
            return (t.__name__,) + tuple(sorted((self.value(x) for x in v), key=repr))
        if t is dict or t is types.MappingProxyType:
            return ("dict",) + tuple(sorted(((self.value(k), self.value(x)) for k, x in v.items()),
                                             key=repr))
        if isinstance(v, (types.FunctionType, types.BuiltinFunctionType, type, types.CodeType)):
            return ("fn", getattr(v, "__qualname__", repr(v)))
        if isinstance(v, types.MethodType):
            return ("method", v.__func__.__qualname__, self.value(v.__self__))
        if isinstance(v, types.GeneratorType):
            return ("gen", frames(v, self))
        if isinstance(v, Shared):
            uid = v.uid
            if uid not in self.heap:
                self.heap[uid] = None           # a cycle back to it names it only
                self.heap[uid] = (type(v).__name__, self.fields(v))
            return ("@", uid)
        i = id(v)
        if i in self.seen:
            return ("#", self.seen[i])
        self.seen[i] = len(self.seen)
        self.keep.append(v)
        return (type(v).__qualname__, self.fields(v))

    def fields(self, v):
        out = []
        d = getattr(v, "__dict__", None)
        if d is not None:
            out.extend((k, self.value(x)) for k, x in sorted(d.items()) if not k.startswith("__"))
        for cls in type(v).__mro__:
            for name in cls.__dict__.get("__slots__", ()):
                if name in ("__dict__", "__weakref__"):
                    continue
                desc = cls.__dict__.get(name)
                # shared_struct replaces a field's member descriptor by its own,
                # which keeps the member as ``slot``: read that (no recording).
                slot = getattr(type(v).__dict__.get(name, desc), "slot", desc)
                try:
                    x = slot.__get__(v, type(v))
                except AttributeError:
                    continue
                out.append((name, self.value(x)))
        return tuple(out)


def frames(gen, canon) -> tuple:
    out = []
    while gen is not None and getattr(gen, "gi_frame", None) is not None:
        f = gen.gi_frame
        out.append((f.f_code.co_qualname, f.f_lasti,
                    tuple((k, canon.value(x)) for k, x in f.f_locals.items())))
        gen = gen.gi_yieldfrom
    return tuple(out)


def _action(a, canon):
    if a is None:
        return None
    return (a.op, canon.value(getattr(a, "obj", None)), canon.value(getattr(a, "arg", None)),
            canon.value(getattr(a, "arg2", None)))


class StateKeys(Monitor):
    """Counts tree nodes, states and edges (see the module docstring)."""

    name = "state-keys"

    def __init__(self):
        self.nodes = set()
        self.states = set()
        self.edges = set()
        self.hstates = set()
        self.hedges = set()
        self.steps = 0

    def applies(self, program) -> bool:
        return True

    def on_execution_start(self, world):
        self.node = ()
        self.hist = [() for _ in world.tasks]
        self.key = self._key(world)
        self.hkey = self._hkey(world)
        self.states.add(self.key)
        self.hstates.add(self.hkey)

    def _key(self, world, stepped=None):
        """The state after a step of task ``stepped`` (None: before any step).  Its
        pending action is not the World's yet (on_step_end comes first): its frames,
        just resumed, and the heap determine it; another task's was computed when
        it yielded, from the heap then, so it is part of the state."""
        canon = _Canon()
        tasks = []
        for t in world.tasks:
            done = t.finished or getattr(t.gen, "gi_frame", None) is None
            pending = None if done or t.index == stepped else _action(t.pending, canon)
            tasks.append((done, t.pc, t.explicit, tuple((lk.uid, s) for lk, s in t.held),
                          pending, () if done else frames(t.gen, canon)))
        canon.value(world.program.context)
        return (tuple(tasks), tuple(sorted(canon.heap.items(), key=repr)))

    def _hkey(self, world):
        canon = _Canon()
        canon.value(world.program.context)
        return (tuple(self.hist), tuple(sorted(canon.heap.items(), key=repr)))

    def on_step_end(self, world, event):
        self.steps += 1
        label = (event.task, repr(getattr(event, "choice", None)))
        self.node = (self.node, label)
        self.nodes.add(hash(self.node))
        t = event.task
        self.hist[t] = self.hist[t] + ((event.action.op, repr(event.result), repr(event.choice)),)
        key = self._key(world, t)
        self.edges.add(hash((self.key, label)))
        self.key = key
        self.states.add(key)
        hkey = self._hkey(world)
        self.hedges.add(hash((self.hkey, label)))
        self.hkey = hkey
        self.hstates.add(hkey)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--version", default="upstream")
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--depth", type=int, default=1)
    ap.add_argument("--cpus", type=int, default=2)
    a = ap.parse_args(argv)
    build, _ = make_build(variant_for(a.version, None), a.scenario, a.depth, a.cpus)
    m = StateKeys()
    began = time.perf_counter()
    r = explore(build, scheduler="dpor", properties=[m])
    took = time.perf_counter() - began
    print(f"{a.version} {a.scenario} depth {a.depth}, {a.cpus} CPU(s): {r.executions:,} "
          f"executions ({r.redundant:,} redundant), {m.steps:,} steps run, {took:.1f} s")
    print(f"  tree nodes (distinct prefixes): {len(m.nodes):,}")
    print(f"  states (frames + heap): {len(m.states):,}; edges: {len(m.edges):,}")
    print(f"  states (histories + heap): {len(m.hstates):,}; edges: {len(m.hedges):,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
