"""The orderings of a trace's steps that respect happens-before, as a z3 problem.

The minimiser (:mod:`checker.minimize`) asks :class:`Ordering` for the
ordering of a causal slice with the fewest preemptions, then the fewest
context switches.  Happens-before is :mod:`checker.dependence`'s with
``invisible=True``: every ordering that respects it is an execution in
which each step does the same thing and gets the same result, so the
encoding needs no enabledness constraint of its own.
"""

from __future__ import annotations

import time

from . import actions as A
from .errors import UsageError
from .objects import Lock


class Ordering:
    """The orderings of ``kept`` events that respect happens-before, as a z3 problem.

    The order is ``(pos, event index)`` sorted: ``pos`` are integer potentials
    (ties are broken by the recorded order, so happens-before, which respects
    the recorded order, needs only ``pos[a] <= pos[b]``).  On each CPU shared
    by two tasks of the slice, steps are grouped in *blocks*: runs of one
    task during which it owns the CPU (atomic), so no other step of that CPU
    can come between.  A Boolean per pair of unordered blocks of different
    tasks says which comes first (disjunctive scheduling; the potentials make
    it transitive), and a block's rank on its CPU counts the blocks before it.
    A switch follows a block when another task's block comes between it and
    the task's next block; it is a preemption unless the task finished,
    yielded (``schedule()``/``cond_resched()`` while preemptible), or waits for
    a sleeping lock that is held when the CPU's next block starts: the state
    of that lock is known between consecutive operations on it, which
    happens-before orders totally.  This is ``World.would_preempt``.
    """

    def __init__(self, world, kept, deps, closure):
        import z3  # lazily: checker imports only the standard library at load time

        self.z3 = z3
        self.kept = list(kept)
        self.deps = deps
        evs, tasks = world.events, world.tasks
        self.evs = evs
        kept_set = set(self.kept)
        n = len(self.kept)
        self.pos = pos = {e: z3.Int(f"pos{e}") for e in self.kept}
        cons = [z3.And(p >= 0, p <= n) for p in pos.values()]
        for e in self.kept:
            cons += [pos[i] <= pos[e] for i in deps[e]]
        nxt, later = {}, {}
        for i in range(self.kept[-1], -1, -1):
            t = evs[i].task
            if t in later:
                nxt[i] = later[t]
            later[t] = i
        self.lock_ops = {}
        for i in range(self.kept[-1] + 1):
            if isinstance(evs[i].action.obj, Lock):
                self.lock_ops.setdefault(evs[i].obj, []).append(i)
        self.kept_set = kept_set
        self._unavail = {}
        by_cpu = {}
        for e in self.kept:
            by_cpu.setdefault(tasks[evs[e].task].cpu, []).append(e)
        pre_terms, sw_terms = [], []
        one, zero = z3.IntVal(1), z3.IntVal(0)
        for steps in by_cpu.values():
            if len({evs[e].task for e in steps}) < 2:
                continue
            blocks = []          # (head, tail): a run of one task that owns the CPU inside
            open_block = {}
            for e in steps:
                t = evs[e].task
                b = open_block.get(t)
                if b is None:
                    b = [e, e]
                    blocks.append(b)
                b[1] = e
                open_block[t] = b if (evs[e].pc > 0 and nxt.get(e) in kept_set) else None
            m = len(blocks)
            task_of = [evs[b[0]].task for b in blocks]
            before = [[None] * m for _ in range(m)]
            for x in range(m):
                for y in range(x + 1, m):
                    if task_of[x] == task_of[y] or closure[blocks[y][1]] >> blocks[x][0] & 1:
                        before[x][y], before[y][x] = True, False
                    else:
                        o = z3.Bool(f"o{blocks[x][0]}_{blocks[y][0]}")
                        before[x][y], before[y][x] = o, z3.Not(o)
                        cons.append(z3.If(o, self._before(blocks[x][1], blocks[y][0]),
                                          self._before(blocks[y][1], blocks[x][0])))
            rank = [z3.Sum([one if before[y][x] is True else z3.If(before[y][x], one, zero)
                            for y in range(m) if y != x and before[y][x] is not False] or [zero])
                    for x in range(m)]
            next_block = {}
            for x in range(m):
                for y in range(x + 1, m):
                    if task_of[y] == task_of[x]:
                        next_block[x] = y
                        break
            for x in range(m):
                t = task_of[x]
                others = [y for y in range(m) if task_of[y] != t]
                ny = next_block.get(x)
                if ny is None:
                    terms = [before[x][y] for y in others]
                else:
                    terms = [_and(z3, before[x][y], before[y][ny]) for y in others]
                terms = [c for c in terms if c is not False]
                if not terms:
                    continue
                sw = True if any(c is True for c in terms) else z3.Or(terms)
                sw_terms.append(sw)
                e = blocks[x][1]
                after = nxt.get(e)
                if (after is None and tasks[t].finished) or (
                        evs[e].action.op in (A.SLEEP, A.COND_RESCHED) and evs[e].pc == 0):
                    continue
                pending = evs[after].action if after is not None else tasks[t].pending
                alts = []
                for y in others:
                    if before[x][y] is False:
                        continue
                    held = self._held_at(pending, blocks[y][0])
                    if held is not False:
                        alts.append(_and(z3, rank[y] == rank[x] + 1, held))
                wait = z3.Or(alts) if alts else None
                pre_terms.append(sw if wait is None else _and(z3, sw, z3.Not(wait)))
        self.constraints = cons
        self.preemptions = _count(z3, pre_terms)
        self.switches = _count(z3, sw_terms)

    def _before(self, x, y):
        """z3: event ``x`` comes before event ``y`` (x != y) in the decoded order."""
        return self.pos[x] <= self.pos[y] if x < y else self.pos[x] < self.pos[y]

    def _held_at(self, pending, w):
        """z3 (or False): ``pending`` is an acquisition of a sleeping lock unavailable when ``w`` runs."""
        if pending is None or (pending.op != A.ACQUIRE and pending.op != A.WAIT):
            return False
        lk = pending.obj
        if A.spins(pending) or not lk.blocking:
            return False
        key = (lk.uid, pending.arg, w)
        got = self._unavail.get(key)
        if got is not None:
            return got
        z3 = self.z3
        ops = self.lock_ops.get(lk.uid, [])
        kept_ops = [i for i in ops if i in self.kept_set]
        states = [self.evs[ops[0]].pre if ops else lk.state()] + [self.evs[i].post for i in kept_ops]
        spans = []
        for k, st in enumerate(states):
            if Lock.available_in(st, pending.arg):
                continue
            # the state before w is the one after the last operation before w
            lo = True if k == 0 else (False if kept_ops[k - 1] == w else self._before(kept_ops[k - 1], w))
            hi = True if k == len(kept_ops) or kept_ops[k] == w else self._before(w, kept_ops[k])
            spans.append(_and(z3, lo, hi))
        got = z3.Or(spans) if spans else False
        self._unavail[key] = got
        return got

    def greedy(self):
        """A good ordering fast: run each CPU's current task while it can (the search's hint)."""
        evs = self.evs
        succ = {e: [] for e in self.kept}
        indeg = {}
        for e in self.kept:
            indeg[e] = len(self.deps[e])
            for i in self.deps[e]:
                succ[i].append(e)
        ready = sorted(e for e in self.kept if indeg[e] == 0)
        current = {}
        out = []
        while ready:
            pick = next((e for e in ready if current.get(self._cpu(e)) == evs[e].task), ready[0])
            ready.remove(pick)
            out.append(pick)
            current[self._cpu(pick)] = evs[pick].task
            for j in succ[pick]:
                indeg[j] -= 1
                if indeg[j] == 0:
                    ready.append(j)
            ready.sort()
        return out

    def _cpu(self, e):
        return self.evs[e].cpu

    def solve(self, seconds: float):
        """``(event order, (preemptions, switches), proved optimal)``.

        ``Optimize`` first; if it stops at its share of the time without a
        model, a descent from the greedy ordering (each z3 call asks for a
        strictly simpler ordering) keeps the best found, and proves it
        optimal when z3 answers that none is simpler.
        """
        z3 = self.z3
        deadline = time.perf_counter() + seconds
        opt = z3.Optimize()
        opt.set("timeout", max(1, int(seconds * 600)))
        opt.add(self.constraints)
        hint = self.greedy()
        if hasattr(opt, "set_initial_value"):
            for k, e in enumerate(hint):
                opt.set_initial_value(self.pos[e], k)
        opt.minimize(self.preemptions)
        opt.minimize(self.switches)
        status = opt.check()
        if status == z3.sat:
            return self._decode(opt.model()) + (True,)
        best = min(self.evaluate(hint, decode=True), self.evaluate(self.kept, decode=True),
                   key=lambda x: x[1])
        try:  # Optimize may hold a model from before its time ran out
            found = self._decode(opt.model())
            best = min(best, found, key=lambda x: x[1])
        except z3.Z3Exception:
            pass
        s = z3.Solver()
        s.add(self.constraints)
        while True:
            left = deadline - time.perf_counter()
            if left <= 0.01:
                return best + (False,)
            p, cs = best[1]
            s.add(z3.Or(self.preemptions < p, z3.And(self.preemptions == p, self.switches < cs)))
            s.set("timeout", max(1, int(left * 1000)))
            r = s.check()
            if r == z3.sat:
                best = self._decode(s.model())
            else:
                return best + (r == z3.unsat,)

    def evaluate(self, order, decode=False):
        """The objective for a given order of the kept events (a test of the encoding)."""
        z3 = self.z3
        s = z3.Solver()
        s.add(self.constraints)
        s.add([self.pos[e] == k for k, e in enumerate(order)])
        if s.check() != z3.sat:
            raise UsageError("the order does not respect happens-before")
        got = self._decode(s.model())
        return got if decode else got[1]

    def _decode(self, model):
        vals = {e: model.eval(p, model_completion=True).as_long() for e, p in self.pos.items()}
        seq = sorted(self.kept, key=lambda e: (vals[e], e))
        p = model.eval(self.preemptions, model_completion=True).as_long()
        cs = model.eval(self.switches, model_completion=True).as_long()
        return seq, (p, cs)


def _and(z3, *xs):
    """z3.And with Python constants folded (the encoding has many)."""
    if any(x is False for x in xs):
        return False
    rest = [x for x in xs if x is not True]
    if not rest:
        return True
    return rest[0] if len(rest) == 1 else z3.And(rest)


def _count(z3, terms):
    fixed = sum(1 for t in terms if t is True)
    live = [z3.If(t, 1, 0) for t in terms if t is not True and t is not False]
    return z3.Sum(live) + fixed if live else z3.IntVal(fixed)
