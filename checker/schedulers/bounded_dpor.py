"""``dpor`` under a preemption bound: a search of trace states, cheapest first.

Partial-order reduction and a preemption bound do not compose directly
(Coons, Musuvathi and McKinley, "Bounded Partial-Order Reduction", OOPSLA
2013): the bound depends on the order of independent steps, so the one
ordering of a trace that DPOR explores may exceed it while another ordering
of the same trace fits.  BPOR repairs DPOR's backtracking with conservative
branches.  This scheduler reaches the same goal from the other side (the
equivalent docs/design.md justifies): it keeps the partial order as the
*state* and lets the bound choose the paths.

* **States are Mazurkiewicz traces.**  Two executions of the same trace (same
  events, same happens-before under the dependence relation of ``dpor``)
  reach the same state; that is the theorem every DPOR rests on.  A run
  computes the trace of its prefix incrementally (vector clocks) and stops,
  as *redundant*, when it reaches a trace already expanded.
* **What the bound still needs is small.**  The preemptions a continuation
  costs depend on the state and, per shared CPU, on which task last ran there
  if switching away from it would be a preemption (it is runnable: not
  finished, not after ``schedule()``/``cond_resched()``, not waiting for a
  sleeping lock).  A state is expanded again only when reached with fewer
  preemptions, or with a context it is not already covered by (a CPU free to
  switch covers any task on it).
* **Cheapest first.**  The moves not taken wait in a queue by their cost;
  the search always continues from the cheapest, so every state is expanded
  first with its fewest preemptions, a violation found at cost k has the
  fewest preemptions of any (``--preemption-bound auto`` is one search, not
  one per bound), and a bound K simply leaves the moves costing more than K
  in the queue.  Whether those moves reach anything new is then checked, so
  "the bound cut nothing" means exactly that.

Exactness: every state reachable within the bound is expanded and every
move from it is taken (inline or from the queue), so the outcomes, the
deadlocks and the violations are those of ``dfs`` within the same bound
(tests/test_engine_differential.py, bench/fuzz_dpor.py --bound).  On a
program with no CPU shared by two tasks no step can preempt: the search is
plain ``dpor``.
"""

from __future__ import annotations

from hashlib import blake2b

from .. import actions as A
from ..dependence import Dependences
from ..reductions import SECTIONS, MacroSteps
from .base import BaseScheduler
from .dpor import DPOR

_MASK = (1 << 128) - 1


class _Clocks(Dependences):
    """Happens-before of the scheduled events of one run (dpor's, ``invisible=False``),
    and a digest of its trace."""

    __slots__ = ("digest",)

    def __init__(self, ntask: int):
        super().__init__(ntask)
        self.digest = 0

    def add(self, e) -> list:
        vc = super().add(e)
        # A strong hash per event, added: the digest of a set.  (Python's hash()
        # of tuples added up collides: the fuzzer found two traces that met.)
        h = blake2b(repr((e.task, e.seq, e.choice, vc)).encode(), digest_size=16).digest()
        self.digest = (self.digest + int.from_bytes(h, "little")) & _MASK
        return vc


class BoundedDPOR(BaseScheduler):
    """``bound``: at most that many preemptions per execution; None: no bound,
    cheapest first (``--preemption-bound auto``: with ``auto`` the first
    violation's cost becomes the bound, so the search finishes that cost)."""

    name = "dpor (bounded: trace states, cheapest first)"
    reductions = SECTIONS
    # Its reasoning about who may run on a CPU knows sections, not interrupts.
    interrupts = False

    def __init__(self, bound=None, auto=False, guards=True):
        self.bound = bound
        self.initial_bound = bound
        self.auto = auto
        # Whether guarded sections may be one step: only on programs without a
        # shared CPU, that is plain dpor's (checker.reductions decides).
        self.guards = guards
        self.reductions = SECTIONS if guards else (MacroSteps,)
        self.queue = {0: [None]}      # cost -> nodes (LIFO); a node is (parent, move) or None
        self.seen = {}                # (trace digest, context) -> fewest preemptions expanded with
        self.cut = 0                  # moves beyond the bound not shown to reach a known state
        self.covered = None           # the largest cost explored completely
        self.plain = None             # a DPOR, when no CPU is shared (no step can preempt)
        self.done = False
        self.probing = False          # checking whether the moves beyond the bound reach anything new
        self.cut_new = False          # one of them did
        self.max_cost = 0
        self.found_at = None          # cost of the first violation
        self._new_run(None, 0)

    def reset(self) -> None:
        """Start again (``explore``), with the same reductions: a broken guard is
        withdrawn by the exploration's declarations (see ``DPOR.reset``)."""
        self.__init__(self.initial_bound, self.auto, guards=self.guards)

    # -- the scheduler protocol ---------------------------------------------
    def new_execution(self) -> bool:
        if self.plain is not None:
            return self.plain.new_execution()
        if self.done:
            return False
        while True:
            cost = min((c for c, nodes in self.queue.items() if nodes), default=None)
            if cost is None:
                self.done = True
                self.covered = self.max_cost
                return False
            limit = self.bound
            if limit is not None and cost > limit:
                if not self.probing:
                    self.probing = True
                    self.covered = limit
                    self.cut = sum(len(n) for c, n in self.queue.items() if c > limit)
                if self.cut == 0 or self.cut_new or self.found_at is not None:
                    self.done = True
                    return False
            node = self.queue[cost].pop()
            self._new_run(node, cost)
            return True

    def _new_run(self, node, cost) -> None:
        prefix = []
        while node is not None:
            node, move = node
            prefix.append(move)
        prefix.reverse()
        self.prefix = prefix
        self.cost = cost
        self.depth = 0
        self.clk = None
        self.node = None
        self.max_cost = max(self.max_cost, cost)

    def pick(self, world, enabled):
        if self.plain is not None:
            return self.plain.pick(world, enabled)
        if self.clk is None:
            if not any(world.shared_cpu):
                self.plain = DPOR(guards=self.guards)
                self.plain.new_execution()
                return self.plain.pick(world, enabled)
            self.clk = _Clocks(len(world.tasks))
        clk = self.clk
        evs = world.sched_events
        while len(clk.clocks) < len(evs):
            clk.add(evs[len(clk.clocks)])
        d = self.depth
        self.depth = d + 1
        if d < len(self.prefix):
            move = self.prefix[d]
            self.node = (self.node, move)
            return move
        if self._known(world):
            if self.probing:
                self.cut -= 1
            return None
        if self.probing:
            self.cut_new = True
            return False            # the bound cut a state never reached within it
        cheap = None
        here = self.node
        for t in enabled:
            extra = 1 if world.would_preempt(t) else 0
            a = world.tasks[t].pending
            for v in (a.arg if a.op == A.CHOOSE else (None,)):
                if extra == 0 and cheap is None:
                    cheap = (t, v)
                else:
                    self.queue.setdefault(self.cost + extra, []).append((here, (t, v)))
        if cheap is None:
            return False            # every move preempts: continued later, cheapest first
        self.node = (here, cheap)
        return cheap

    def _known(self, world) -> bool:
        """Whether this state was expanded with no more preemptions and a covering context;
        if not, it is recorded as expanded now."""
        ctx = []
        for c, shared in enumerate(world.shared_cpu):
            if shared:
                cur = world.current[c]
                if cur is not None:
                    u = world.tasks[cur]
                    if u.finished or u.yielded or world.waits_sleeping(u):
                        cur = None
                ctx.append(cur)
        digest = self.clk.digest
        cost = world.preemptions
        seen = self.seen
        for cover in _covers(tuple(ctx)):
            got = seen.get((digest, cover))
            if got is not None and got <= cost:
                return True
        seen[(digest, tuple(ctx))] = cost
        return False

    def end_execution(self, world, status) -> None:
        if self.plain is not None:
            self.plain.end_execution(world, status)
            return
        if world.violations and self.found_at is None:
            self.found_at = self.cost
            if self.auto:
                self.bound = self.cost      # finish this cost: every violation with as few preemptions

    def judge(self, world, status) -> str:
        """A complete or deadlocked run whose final trace was reached before is redundant;
        a probe beyond the bound counts nothing and reports nothing (it only asks
        whether the move reaches a new state)."""
        if self.plain is not None or self.clk is None:
            return status
        if self.probing:
            del world.violations[:]      # found beyond the bound: not a finding within it
            if status in ("complete", "deadlock"):
                self._add_new(world)
                if (self.clk.digest, "end") in self.seen:
                    self.cut -= 1
                    return "redundant"
                self.cut_new = True
                return "pruned"
            if status == "violation":       # ended at the move's step: it reached somewhere new
                self.cut_new = True
                return "pruned"
            return status
        if status not in ("complete", "deadlock"):
            return status
        self._add_new(world)
        key = (self.clk.digest, "end")
        if key in self.seen:
            return "redundant"
        self.seen[key] = world.preemptions
        return status

    def _add_new(self, world) -> None:
        clk = self.clk
        evs = world.sched_events
        while len(clk.clocks) < len(evs):
            clk.add(evs[len(clk.clocks)])


def _covers(ctx: tuple):
    """Contexts that cover ``ctx``: each CPU as it is, or free to switch (None)."""
    out = [()]
    for c in ctx:
        out = [o + (c,) for o in out] + ([o + (None,) for o in out] if c is not None else [])
    return out
