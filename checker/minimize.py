"""Minimal counterexamples: a causal slice, then the simplest ordering, found by z3.

"Simpler" is defined once (style.md lesson 11): fewer preemptions, then fewer
context switches on a CPU, then fewer steps.  :func:`minimize_trace` works in
four stages (ARCHITECTURE.md section 6):

1. **Causal slice.**  The trace is replayed; every step that does not happen
   before the violating step (or a step the property points at) is dropped.
   Happens-before is the search's (:mod:`checker.dependence`) with
   ``invisible=True``: an invisible step keeps its place relative to the
   ownership changes of its CPU, so every ordering of the kept steps that
   respects happens-before is an execution of the program in which each
   step does the same thing and gets the same result.
2. **Ordering by z3** (:mod:`checker.ordering`).  Among those orderings,
   z3's ``Optimize`` finds one with the fewest preemptions, then the fewest
   context switches, and proves it optimal or stops at the time limit with
   the best it found.  The objective is the engine's rule,
   ``World.would_preempt`` (the one the preemption bound applies): a step
   preempts when its CPU last ran another task that had not finished, had
   not just called ``schedule()``/``cond_resched()`` while preemptible, and
   was not waiting for a sleeping lock *at that moment* (the state of that
   lock is known from the fixed order of its operations).  See
   :class:`~checker.ordering.Ordering`.
3. **Earlier runs.**  A violation that needs earlier executions (a
   lock-order cycle whose other edges were seen in other runs) carries their
   schedules; each is sliced to the causal past of its last step (the step
   after which its task asks for the lock that adds the edge) and ordered by
   z3 the same way, and kept when the whole trace still reproduces.
4. **Fewer preemptions by search** (``search=True``).  The ordering is optimal
   for the steps of *this* execution; another execution may violate the same
   property with fewer preemptions.  Searches bounded at 0, 1, 2, ...
   preemptions settle it, cheapest first: the first violation found is
   minimised in turn, and the complete searches below its bound prove its
   preemption count the fewest of any violating execution.

Every candidate is replayed and must violate the same property before it is
returned; the original trace is the fallback, so the result never gets worse.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .dependence import direct_dependences, happens_before
from .errors import UsageError
from .explore import explore
from .ordering import Ordering
from .schedulers.replay import jsonable
from .trace import _properties, _replay, check_trace, resolve_build


@dataclass(slots=True, frozen=True)
class MinimizeReport:
    """Counts before and after, and what was proved.

    ``optimal``: z3 proved that no ordering of the kept steps has fewer
    preemptions, or as many and fewer context switches.  ``fewest_preemptions``:
    True when a complete bounded search proved that no execution violates the
    property with fewer preemptions; None when that was not settled.
    """

    before_preemptions: int
    before_context_switches: int
    before_steps: int
    after_preemptions: int
    after_context_switches: int
    after_steps: int
    optimal: bool
    message: str
    fewest_preemptions: bool | None = None

    def summary(self) -> str:
        return (f"preemptions {self.before_preemptions} -> {self.after_preemptions}, "
                f"context switches {self.before_context_switches} -> {self.after_context_switches}, "
                f"steps {self.before_steps} -> {self.after_steps}; {self.message}")


def minimize_trace(trace: dict, time_limit: float = 30.0, *, search: bool = True) -> tuple[dict, MinimizeReport]:
    """The simplest trace violating the same property, and a report.

    Raises UsageError when the trace is unusable or does not reproduce.  The
    returned trace is a new dict (same program and expectation) whose
    ``meta["minimized"]`` records the report.
    """
    if not isinstance(time_limit, (int, float)) or time_limit <= 0:
        raise UsageError(f"minimize: time_limit must be a positive number of seconds, got {time_limit!r}")
    check_trace(trace)
    deadline = time.perf_counter() + time_limit
    build = resolve_build(trace["program"])
    first = _replay(trace, build, None)
    if not first.reproduced:
        raise UsageError(f"cannot minimise: the trace does not reproduce ({first.message})")
    best, optimal, notes = _minimize_execution(first, build, deadline)
    fewest = True if _key(best)[0] == 0 else None
    if search and fewest is None:
        best, optimal, notes, fewest = _search_fewer(trace, build, best, optimal, notes, deadline)
    if best.trace.get("runs"):
        best, run_notes = _minimize_runs(best, build, deadline)
        notes += run_notes
    b, a = first.trace["stats"], best.trace["stats"]
    report = MinimizeReport(b["preemptions"], b["context_switches"], b["steps"],
                            a["preemptions"], a["context_switches"], a["steps"],
                            optimal, "; ".join(notes), fewest)
    out = dict(best.trace)
    if any("program" in r for r in trace.get("runs") or ()):
        # The replay's monitor numbers the runs it saw; the writer's message names the
        # scenarios they were taken in (a lock-order cycle across scenarios).
        out["violation"] = dict(out["violation"], message=trace["violation"]["message"])
    out["meta"] = dict(trace.get("meta") or {})
    out["meta"].pop("note", None)
    out["meta"]["minimized"] = {
        "before": b, "after": a, "optimal": optimal, "fewest_preemptions": fewest,
        "message": report.message}
    return out, report


def _search_fewer(trace, build, best, optimal, notes, deadline):
    """Stage 4: bounded searches from 0 preemptions up; returns (best, optimal, notes, fewest)."""
    prop = trace["violation"]["property"]
    fewest = None
    # The search gets half of what is left: an incomplete search proves nothing,
    # and the ordering found so far is already a good answer.
    search_deadline = time.perf_counter() + (deadline - time.perf_counter()) / 2
    bound = 0
    while bound < _key(best)[0]:
        left = search_deadline - time.perf_counter()
        if left <= 0.05:
            notes.append(f"no time left to search with {bound} preemption(s)")
            break
        # dfs: the bounded search must be exhaustive within the bound to prove anything.
        res = explore(build, scheduler="dfs", properties=_properties(prop, None),
                      preemption_bound=bound, time_limit=left)
        found = [v for v in res.violations if v.property == prop]
        if not found:
            if not res.complete:
                notes.append(f"the search with at most {bound} preemption(s) stopped at its time limit")
                break
            bound += 1
            continue
        cand = _replay(_trace_of(trace, found[0]), build, None)
        if not cand.reproduced:  # the model is not deterministic; keep what we have
            notes.append(f"a violation found with at most {bound} preemption(s) did not replay")
            break
        cand, cand_optimal, cand_notes = _minimize_execution(cand, build, deadline)
        if _key(cand) < _key(best):
            best, optimal = cand, cand_optimal
            notes = [f"a search found an execution with at most {bound} preemption(s)"] + cand_notes
        # Every search below ``bound`` was complete and found nothing.
        fewest = True if _key(best)[0] == bound else None
        if bound:
            notes.append(f"no violation with fewer than {bound} preemption(s)")
        break
    else:
        fewest = True
        notes.append(f"no violation with fewer than {bound} preemption(s)")
    return best, optimal, notes, fewest


def _key(outcome):
    s = outcome.trace["stats"]
    return (s["preemptions"], s["context_switches"], s["steps"])


def _trace_of(trace: dict, v) -> dict:
    out = {k: trace[k] for k in ("format", "version", "program", "expect", "tasks") if k in trace}
    if v.runs:
        out["runs"] = [{"schedule": [[t, jsonable(c)] for t, c in r]} for r in v.runs]
    out["violation"] = {"property": v.property, "message": v.message, "step": v.step,
                        "task": v.task, "involved": list(v.involved)}
    out["schedule"] = [[t, jsonable(c)] for t, c in v.schedule]
    return out


def _minimize_execution(outcome, build, deadline):
    """Slice and order one reproduced execution; returns (best outcome, optimal, notes)."""
    world = outcome.world
    n = outcome.violation.step + 1
    if n == 0:
        return outcome, True, ["the violation happens before any step"]
    targets = [n - 1] + [i for i in outcome.violation.involved if 0 <= i < n - 1]
    if world.deadlocked:  # nobody may run at the end: every task must reach its last step
        last = {}
        for i in range(n):
            last[world.events[i].task] = i
        targets += last.values()
    deps = direct_dependences(world.events[:n], len(world.tasks), invisible=True)
    past = 0
    closure = happens_before(deps)
    for t in targets:
        past |= closure[t] | (1 << t)
    kept = [i for i in range(n) if past >> i & 1]
    notes = [f"slice kept {len(kept)} of {n} steps"]
    best = outcome
    sliced = _candidate(outcome.trace, world, kept, build) if len(kept) < n else None
    if sliced is None and len(kept) < n:
        # The property needs more than the causal past (a monitor watching state the
        # dependence relation does not see): order every step instead.
        notes = ["the slice did not reproduce the violation; ordering every step"]
        kept = list(range(n))
    elif sliced is not None and _key(sliced) < _key(best):
        best = sliced
    best, optimal, said = _order(outcome, world, kept, deps, closure, build, deadline, best)
    notes += said
    if not optimal and len(kept) < n and said[-1].startswith("z3 proved"):
        # A step outside the causal slice made a switch free (a task that had
        # yielded, or waited for a lock): order every step instead.
        best, optimal, said = _order(outcome, world, list(range(n)), deps, closure, build, deadline, best)
        notes += [f"every step: {x}" for x in said]
    return best, optimal, notes


def _order(outcome, world, kept, deps, closure, build, deadline, best):
    """z3's ordering of the steps ``kept``, replayed: ``(best, proved optimal, notes)``."""
    seq, (p, cs), proved = Ordering(world, kept, deps, closure).solve(max(deadline - time.perf_counter(), 0.1))
    cand = _candidate(outcome.trace, world, seq, build)
    if cand is None:
        why = ("z3's ordering did not reproduce the violation (a monitor depends on more "
               "than the dependence relation); kept the best replayed trace")
        return best, False, [why]
    st = cand.trace["stats"]
    notes = []
    if st["steps"] == len(seq) and (st["preemptions"], st["context_switches"]) != (p, cs):
        notes.append(f"[zsmc internal bug] z3 counted {p} preemptions and {cs} context switches, "
                     f"the replay {st['preemptions']} and {st['context_switches']}")
        proved = False
    if _key(cand) <= _key(best):
        notes.append("z3 proved the ordering optimal" if proved
                     else "z3 stopped at the time limit; best ordering found")
        return cand, proved, notes
    b = best.trace["stats"]
    if proved:
        notes.append(f"z3 proved {p} preemption(s) and {cs} context switch(es) the fewest for these "
                     f"{len(seq)} steps, more than the {b['preemptions']} and {b['context_switches']} of "
                     "the trace it started from, which is kept")
    else:
        notes.append("z3 stopped at the time limit with an ordering no better than the trace it "
                     "started from, which is kept")
    return best, False, notes


def _candidate(trace: dict, world, seq, build):
    """Replay the steps ``seq`` (event indices of ``world``) in that order; None if no violation."""
    evs = world.events
    cand = {k: trace[k] for k in ("format", "version", "program", "expect", "tasks", "runs") if k in trace}
    viol = trace["violation"]
    cand["violation"] = {"property": viol["property"], "message": viol["message"],
                         "step": len(seq) - 1, "involved": []}
    cand["schedule"] = [[evs[i].task, evs[i].choice] for i in seq]
    cand["events"] = [{"op": evs[i].action.name, "obj": getattr(evs[i].action.obj, "name", None)}
                      for i in seq]
    out = _replay(cand, build, None)
    if out.violation is None or out.violation.property != viol["property"]:
        return None
    return out


def _minimize_runs(best, build, deadline):
    """Stage 3: slice and order each earlier run; keep it when the trace still reproduces."""
    from .schedulers.replay import Replay
    notes = []
    trace = best.trace
    runs = trace["runs"]
    for k in range(len(runs)):
        left = deadline - time.perf_counter()
        if left <= 0.05:
            notes.append(f"no time left for earlier run {k + 1}")
            break
        own = runs[k].get("program")       # a run of another scenario (trace version 3)
        replayer = Replay(runs[k]["schedule"])
        explore(build if own is None else resolve_build(own), scheduler=replayer, properties=[],
                stop_on_violation=False)
        world = replayer.world
        n = len(world.events)
        if n == 0:
            continue
        deps = direct_dependences(world.events, len(world.tasks), invisible=True)
        closure = happens_before(deps)
        kept = [i for i in range(n) if (closure[n - 1] | (1 << (n - 1))) >> i & 1]
        seq, _, proved = Ordering(world, kept, deps, closure).solve(max(left / (len(runs) - k) / 2, 0.1))
        cand = dict(trace, runs=[dict(r) for r in runs])
        cand["runs"][k] = {"schedule": [[world.events[i].task, jsonable(world.events[i].choice)] for i in seq]}
        if own is not None:
            cand["runs"][k]["program"] = own
        out = _replay(cand, build, None)
        old, new = runs[k].get("stats") or {}, (out.trace.get("runs") or [{}] * (k + 1))[k].get("stats") or {}
        if out.reproduced and _stats_key(new) < _stats_key(old):
            best, trace = out, out.trace
            runs = trace["runs"]
            notes.append(f"earlier run {k + 1}: {old.get('steps')} -> {new.get('steps')} steps, "
                         f"{old.get('preemptions')} -> {new.get('preemptions')} preemptions"
                         + ("" if proved else " (not proved optimal)"))
    return best, notes


def _stats_key(st: dict):
    return (st.get("preemptions", 0), st.get("context_switches", 0), st.get("steps", 0))
