"""``lock-order`` across a whole check: one lockdep graph per boot.

The kernel's lockdep keeps one dependency graph from boot to shutdown: it
reports ``A -> B`` taken by one code path and ``B -> A`` taken by another
even if the two never ran at the same time, nor in the same test.  One
exploration's :class:`~properties.lock_order.LockOrder` (with its split
subtrees, thefts and ``--jobs`` workers merged, :mod:`checker.merge`) sees
the executions of one scenario only; :class:`CheckLockdep` joins those of
every scenario a check runs, as one boot would.

* *One graph per kernel*: per version (one check checks one variant, whose
  lock classes are its own) and kernel configuration (``--config rt`` and the
  PREEMPT_RT pass boot another kernel, whose lockdep starts empty).
* *Fed in report order*: each scenario's dependencies (its searches' exported
  states, subtree by subtree, in the order they were first seen) join the
  graph after it is explored; the order is that of the check's scenarios, not
  of the workers, so ``--jobs N`` reports what ``--jobs 1`` does.
* *Witnesses*: the graph keeps, for each dependency, the first scenario that
  took it (its program, CPUs) and the :class:`~properties.lock_order.Edge`:
  task, call chain, held locks, steps, and the schedule of its run.
* *What is reported here*: a cycle closed by a scenario's dependency that the
  scenario's own graph does not close (at least one edge is another
  scenario's), at most one per scenario (its own search stops at its first
  violation too; lockdep turns itself off after its first report).  A cycle
  inside one scenario's graph is that scenario's own ``lock-order``
  violation, reported as before.
* *Replay*: such a cycle has one witness execution per edge, in different
  programs.  Its trace (version 3, checker/trace.py) replays each other
  edge's run on its own scenario first, the ``lock-order`` monitor carried
  from one program to the next (``Monitor.carry_over``), then the run that
  closes the cycle.  The violation is built by that replay; one the replay
  does not reproduce is reported without a trace, saying why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from checker import explore
from checker.result import Violation
from checker.schedulers.replay import Replay

from .lock_order import Edge, LockOrder, _dependencies
from .lockdep_graph import LockGraph

PROPERTY = "lock-order"


@dataclass(frozen=True, slots=True)
class Witness:
    """The first run of a check that took one dependency."""

    scenario: str
    cpus: object               # the scenario's CPU count (None: its own)
    program: dict              # {"loader", "params"}: what rebuilds the scenario
    edge: Edge
    build: object = field(default=None, compare=False, repr=False)   # the build function

    def where(self) -> str:
        cpus = f", {self.cpus} CPU{'s' if self.cpus != 1 else ''}" if self.cpus else ""
        return f"{self.scenario}{cpus}"


class _Kernel:
    __slots__ = ("graph", "reported")

    def __init__(self):
        self.graph = LockGraph()       # first[(prev, next, kind)] is a Witness
        self.reported = set()          # frozensets of the (prev, next) pairs of reported cycles


class CheckLockdep:
    """The lockdep graphs of one check, one per kernel it boots."""

    def __init__(self):
        self.kernels = {}

    def feed(self, kernel, scenario: str, cpus, program: dict, build, states) -> list:
        """Add one scenario's dependencies (``states``: its ``Result.states``);
        returns the violations of the cycles they close with other scenarios'.

        ``kernel``: what boots one lockdep (hashable: the configuration);
        ``program``: the scenario's ``{"loader", "params"}``; ``build``: its build function.
        """
        deps = [d for st in states if st.get(PROPERTY) for d in _dependencies(st[PROPERTY])]
        if not deps:
            return []
        own = LockGraph()       # this scenario's graph alone: what its own search judged
        for prev, nxt, kind, edge in deps:
            own.add(prev, nxt, kind, edge)
        k = self.kernels.setdefault(kernel, _Kernel())
        out = []
        for prev, nxt, kind, edge in deps:
            cycle = k.graph.add(prev, nxt, kind, Witness(scenario, cpus, program, edge, build))
            if cycle is None or all(c in own for c in cycle):
                continue
            pairs = frozenset((u, v) for u, v, _ in cycle)
            if pairs in k.reported:
                continue
            k.reported.add(pairs)
            # One per scenario, as the scenario's own search stops at its first
            # violation (and lockdep at its first report); its other dependencies
            # still join the graph.
            if not out:
                out.append(violation([k.graph.first[c] for c in cycle], cycle))
        return out


def violation(witnesses, cycle) -> Violation:
    """The violation of a cycle across scenarios: ``witnesses[0]`` closed it.

    Its execution is the closing run replayed against a graph holding the
    cycle's other edges; its ``runs`` the other edges' runs, in the order the
    check saw them, each with its program where that is another scenario's.
    """
    closing = witnesses[0]
    seed = LockGraph()
    for c, w in zip(cycle[1:], witnesses[1:]):
        seed.add(*c, w.edge)
    build = closing.build
    if build is None:
        from checker.trace import load_build
        build = load_build(closing.program)
    replayer = Replay(closing.edge.schedule)
    found = explore(build, scheduler=replayer, properties=[LockOrder(seed=seed)],
                    stop_on_violation=True).violations
    message = report(witnesses)
    if not found:
        # Not expected (the run took the closing edge, the seed holds the others): never
        # a trace that does not replay; the cycle is still reported.
        return Violation(PROPERTY, message, -1, closing.edge.task,
                         no_trace="the run that closes the cycle did not reproduce it on replay")
    v = found[0]
    v.message = message
    v.details = {"cycle": [_edge_json(w) for w in witnesses]}
    others = sorted(witnesses[1:], key=lambda w: (w.program == closing.program, w.edge.run))
    v.runs = [{"program": None if w.program == closing.program else w.program,
               "schedule": list(w.edge.schedule)} for w in others]
    return v


def report(witnesses) -> str:
    """lockdep's "possible circular locking dependency" for a cycle of several scenarios."""
    closing = witnesses[0]
    e = closing.edge
    path = " -> ".join([e.prev] + [w.edge.next for w in witnesses])
    head = (f"possible circular locking dependency across scenarios (lockdep keeps one graph per "
            f"boot): {e.task} ({closing.where()}) is trying to take {e.next} while holding {e.prev}, "
            f"which already depends on it: {path}")
    lines = [head, "  the existing dependency chain (in reverse order) is:"]
    n = len(witnesses)
    # The path next -> .. -> prev as #n-1 .. #1, then #0, the new dependency (lockdep's order).
    for i in range(n - 1, 0, -1):
        lines.append("  " + _edge_line(i, witnesses[n - i]))
    lines.append("  " + _edge_line(0, closing))
    scenarios = list(dict.fromkeys(w.where() for w in witnesses))
    lines.append(f"  no one execution takes them all ({'; '.join(scenarios)}): the trace replays each "
                 f"edge's run on its scenario, the closing one last")
    return "\n".join(lines)


def _edge_line(i: int, w: Witness) -> str:
    e = w.edge
    at = " > ".join(f for f in e.chain if not f.startswith("_task")) or "?"
    held = ", ".join(e.held_locks) or e.held
    then = f"{e.action} after step {e.after_step}" if e.after_step != e.held_step else e.action
    return (f"-> #{i} {e.prev} -({e.kind})-> {e.next}: {w.where()}, {e.task} at {at}; holding {held}; "
            f"took {e.prev} at step {e.held_step}, then {then} (its execution {e.run})")


def _edge_json(w: Witness) -> dict:
    e = w.edge
    return {"prev": e.prev, "next": e.next, "kind": e.kind, "scenario": w.scenario, "cpus": w.cpus,
            "config": (w.program.get("params") or {}).get("config", "default"), "task": e.task,
            "chain": list(e.chain), "held_locks": list(e.held_locks), "held_step": e.held_step,
            "action": e.action, "after_step": e.after_step, "run": e.run}
