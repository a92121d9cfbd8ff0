"""Sections ordered by their footprint on a CPU shared among several CPUs (issue 18).

With several CPUs and a shared one, :class:`~checker.mixed.MixedSections`
may split a section of task R on CPU c into several events (another CPU's
steps can come between).  The fine relation (:mod:`checker.dependence`)
orders the section's start and end, ownership changes, against every
visible step of the CPU's other tasks: every interleaving of the CPU's
tasks at the granularity of sections is a trace of its own.

Here, for dpor's race reversal of an execution whose every section ended,
happens-before is built by objects and program order only (the CPU's
ownership is an enabledness constraint, as a lock whose critical sections
commute when their contents do), closed under *contiguity*: a section of R
on c runs with no step of c's other tasks inside its span (its first to its
last event, with the other CPUs' steps between), so

* a step X of another task of c, before the section, that happens before any
  event of the span happens before the section's start (X -> start: a race,
  reversed like any other: started first, the section may wait for what X
  would have made, and X cannot run until it ends);
* such a step after the section that any event of the span happens before
  happens after the section's end (end -> X).

Two executions with the same events and this happens-before run the same
actions in the same order on every object, so they end in the same state with
the same verdicts; the wakeup sequences built with it are put in an order a
CPU can run (:func:`runnable`).  Sleep sets and weak initials keep the fine
relation (a finer relation there only explores more).  An execution that
ends with a section open (a deadlock) is analysed with the fine relation.
"""

from __future__ import annotations

from ..dependence import Dependences, footprint


class NotRunnable(Exception):
    """A reversal built with the contiguity relation that no order can run."""


def coarse_relation(world, evs):
    """``(Dependences, Spans)`` of the execution ``evs`` of ``world`` by this
    module's relation, or None where it does not apply: one CPU, no shared CPU,
    a deadlock, or a section that never ends."""
    if world.deadlocked or not world.mixed_layout:
        return None
    sp = spans_of(evs)
    if sp is None:
        return None
    tasks_on = {}
    for ts in world.tasks:
        if world.shared_cpu[ts.cpu]:
            tasks_on.setdefault(ts.cpu, []).append(ts.index)
    return coarse_dependences(evs, len(world.tasks), tasks_on, sp), sp


class Spans:
    """The sections of one execution: ``end[s]`` the end of the section starting
    at ``s``, ``start[m]`` conversely, ``items``: ``(cpu, task, s, m)``."""

    __slots__ = ("items", "end", "start")

    def __init__(self):
        self.items = []
        self.end = {}
        self.start = {}


def spans_of(evs):
    """The sections of execution ``evs`` (scheduled steps), or None if one never ends."""
    sp = Spans()
    open_ = {}
    for j, e in enumerate(evs):
        c = e.cpu
        if c < 0:
            continue
        if e.xoc:
            if e.own == e.task:
                got = open_.pop(c, None)
                if got is None or got[0] != e.task:
                    return None
                sp.items.append((c, e.task, got[1], j))
            else:
                if c in open_:
                    return None
                open_[c] = (e.task, j)
        elif e.oc:
            # A step that could have changed ownership (a section that waited
            # inside, a spinning trylock): a section of one step.
            sp.items.append((c, e.task, j, j))
    if open_:
        return None
    for c, t, s, m in sp.items:
        sp.end[s] = m
        sp.start[m] = s
    return sp


def coarse_dependences(evs, ntask, tasks_on, sp) -> Dependences:
    """Happens-before of ``evs`` by objects and program order, closed under
    contiguity (module docstring).  ``tasks_on[c]``: the tasks of shared CPU c."""
    by_task = [[] for _ in range(ntask)]
    for j, e in enumerate(evs):
        by_task[e.task].append(j)
    extra = {}
    while True:
        d = Dependences(ntask)
        for j, e in enumerate(evs):
            d.add(e, footprint(e), -1, extra.get(j, ()))
        clocks = d.clocks
        grew = False
        for c, r, s, m in sp.items:
            for t in tasks_on[c]:
                if t == r:
                    continue
                mine = by_task[t]
                # Before the section: t's latest step that happens before the span.
                top = max(clocks[z][t] for z in range(s, m + 1))
                if top:
                    x = mine[top - 1]
                    if x < s:
                        got = extra.setdefault(s, [])
                        if x not in got:
                            got.append(x)
                            grew = True
                # After it: t's first step that the span happens before.
                for x in mine:
                    if x <= m:
                        continue
                    cx = clocks[x]
                    if any(cx[evs[z].task] >= evs[z].seq for z in range(s, m + 1)):
                        got = extra.setdefault(x, [])
                        if m not in got:
                            got.append(m)
                            grew = True
                        break
        if not grew:
            return d


def runnable(seq, evs, hb, owner, end_of):
    """``seq`` (positions of ``evs``: ``notdep(e_k) . e_j``, the last one ``e_j``)
    in an order a CPU can run from the state before ``e_k``, whose shared CPUs'
    sections are ``owner`` (cpu -> (task, end)).  A step of a CPU whose section
    there ends after ``e_k`` ran after that section in the execution, and nothing
    in the sequence before it needs it: it is left out with the steps that need
    it (as the fine relation's reversal leaves out invisible steps).  Then every
    step comes after its predecessors in ``seq``, none of a task on a CPU another
    task's section holds, and a section whose end is not in ``seq`` starts only
    when nothing else can go.  None if ``e_j`` would be left out or no such order
    is found."""
    members = set(seq)
    out_ = []
    for x in seq:
        ex = evs[x]
        o = owner.get(ex.cpu) if ex.cpu >= 0 else None
        if (o is not None and o[0] != ex.task and o[1] not in members) or \
                any(hb(y, x) for y in out_):
            out_.append(x)
    if seq[-1] in out_:
        return None
    dropped = set(out_)
    rem = [x for x in seq if x not in dropped]
    cpu_owner = {c: t for c, (t, m) in owner.items()}
    out = []
    while rem:
        pick = late = None
        for idx, x in enumerate(rem):
            if any(hb(y, x) for y in rem[:idx]):
                continue
            ex = evs[x]
            c = ex.cpu
            if c >= 0:
                o = cpu_owner.get(c)
                if o is not None and o != ex.task:
                    continue
                if ex.xoc and ex.own != ex.task and end_of.get(x) not in rem:
                    if late is None:
                        late = idx
                    continue
            pick = idx
            break
        if pick is None:
            pick = late
            if pick is None:
                return None
        x = rem.pop(pick)
        ex = evs[x]
        if ex.cpu >= 0 and ex.xoc:
            cpu_owner[ex.cpu] = None if ex.own == ex.task else ex.task
        out.append(x)
    return out


def owners_at(k, sp) -> dict:
    """Each shared CPU's section in the state before step ``k``: cpu -> (task, end)."""
    return {c: (t, m) for c, t, s, m in sp.items if s < k <= m}


def cpu_ok(e, j, k, sp, hb) -> bool:
    """Whether step ``e`` (at ``j``) can run after ``pre(E, e_k) . notdep(e_k)`` in some
    order: no other task's section of its CPU is open there (started before
    ``e_k``, or in ``notdep(e_k)`` and happening before ``e``) with its end after
    ``e_k``."""
    for c, t, s, m in sp.items:
        if c != e.cpu or t == e.task or m < k:
            continue
        if s < k:
            if m == k or hb(k, m):
                return False
        elif s > k and not hb(k, s) and hb(k, m) and hb(m, j):
            return False
    return True


def before_section(k, j, evs, hb, sp, fixed):
    """``e_j`` needs a step that a section open at ``e_k`` keeps off its CPU (in the
    execution that step ran after the section, which ends after ``e_k``): reversed,
    that step comes before the section.  Returns ``(s, order)``: the section's
    start ``s``, the node the sequence belongs to, and the steps from ``s`` on that
    do not happen after ``e_k``, then ``e_j``, in an order a CPU can run (the
    section's start after the step); order None if there is none.  (``e_j``'s own
    condition was checked on the same steps before it.)"""
    s = min((s for c, t, s, m in sp.items if s < k <= m), default=None)
    if s is None or s < fixed:
        return k, None
    return s, runnable([m for m in range(s, len(evs)) if m != j and not hb(k, m)] + [j],
                       evs, hb, owners_at(s, sp), sp.end)
