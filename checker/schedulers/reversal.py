"""Race reversal of ``dpor``: at the end of each execution, the sequences to explore next.

For a race ``e_i ⋖ e_j`` of the execution's new part (``e_j`` directly
depends on ``e_i``, nothing between them orders them, and ``e_j`` could have
run first) the sequence ``notdep(e_i) . e_j`` is inserted into the wakeup
tree of node ``i`` unless a sleeping event is a weak initial of it (Abdulla,
Aronis, Jonsson and Sagonas, POPL 2014, section 6).  Happens-before is
:class:`checker.dependence.Dependences` (vector clocks, ``invisible=False``).

Blocking.  Three things can disable a step: a held lock (blocking acquire), a
false ``spin_until`` predicate, and another task owning the CPU.  For such
a *conditional* step ``e_j`` the immediate predecessor on the resource is
often not reversible (the release before an acquire; the write that made a
predicate true; the ``preempt_enable`` that freed the CPU).  Following the
treatment of locks in the optimal-DPOR literature (the race of an acquire is
with the previous acquire, not the release), the race walks back over the
resource's history to the latest step before which ``e_j`` would be enabled,
and checks enabledness on the state that ``pre(E, e_k) . notdep(e_k)``
really reaches (the *fold* of the resource's history).  Predecessors on
conditional resources do not break immediacy; predecessors through data and
program order do.

Names: ``evs`` the execution's scheduled steps; ``hb(i, m)`` step ``i``
happens before step ``m``; ``preds`` a step's direct dependences on other
tasks' steps, ``prev`` its task's previous step; ``hist[o]`` the steps that
changed object ``o`` (writes, additions), ``self._ops[o]`` every step on it;
``cpu_oc[c]`` the steps that changed the ownership of shared CPU ``c``
(``Event.xoc``), ``cpu_all[c]`` every step that interacts through it.
"""

from __future__ import annotations

from .. import actions as A
from ..actions import W, conflict
from ..dependence import dependent, event_fp
from ..errors import InternalError
from ..objects import Lock
from .contiguity import NotRunnable as _NotRunnable
from .contiguity import before_section, coarse_relation, cpu_ok, owners_at, runnable
from .prefix import PrefixRelation
from .wakeup import in_weak_initials, insert


def touched(ev) -> tuple:
    """``((obj, kind, pre, post), ...)``: the objects step ``ev`` touched."""
    if ev.fps is not None:
        return ev.fps
    if ev.kind:
        return ((ev.obj, ev.kind, ev.pre, ev.post),)
    return ()


def _touch(ev, obj):
    """``(kind, state before, state after)`` of ``obj`` at step ``ev``."""
    for o, kind, pre, post in touched(ev):
        if o == obj:
            return kind, pre, post
    raise InternalError(f"dpor: step {ev.index} did not touch object {obj}")


def _apply(state, pre, post):
    """A lock's ``state`` changed as one step changed it from ``pre`` to ``post``
    (shared acquisitions commute, so their effects are added, not copied)."""
    writer = state[0] if pre[0] == post[0] else post[0]
    readers = dict(state[1])
    was, now = dict(pre[1]), dict(post[1])
    for t in was.keys() | now.keys():
        d = now.get(t, 0) - was.get(t, 0)
        if d:
            n = readers.get(t, 0) + d
            if n:
                readers[t] = n
            else:
                readers.pop(t, None)
    return (writer, tuple(sorted(readers.items())))


def _pending_event(world, ts, index):
    """A blocked task's pending step, as an Event placed after the last step."""
    from ..world import Event
    a = ts.pending
    e = Event()
    e.plain = e.dead = None
    e.index = index
    e.task = ts.index
    e.seq = ts.seq + 1
    e.action = a
    e.result = None
    e.choice = a.arg[0] if a.op == A.CHOOSE else None
    e.kind = a.footprint_kind
    if not world.counters and e.kind > A.W:
        e.kind = A.W
    uids = a.uids() if e.kind else ()
    e.obj = uids[0] if uids else None
    e.pre = None
    if a.op == A.SPIN:
        e.pre = a.obj._value
    elif a.op == A.ACQUIRE or a.op == A.WAIT:
        e.pre = a.obj.state()
    fps = [(u, e.kind, e.pre if i == 0 else None, None) for i, u in enumerate(uids)]
    owner = getattr(a.obj, "owner", None)
    if owner is not None and a.op != A.RELEASE:
        # As World._step records it: the object lives in another, whose
        # lifetime the step reads.
        fps.append((owner.pin_uid, A.R, None, None))
    e.fps = tuple(fps) if len(fps) > 1 else None
    shared = world.shared_cpu[ts.cpu]
    e.cpu = ts.cpu if shared else -1
    e.own = world.owner[ts.cpu] if shared else None
    e.oc = world.would_change_owner(ts)
    e.xoc = False
    e.post = None
    return e


def event_key(ev):
    """An event's identity: its task, and for a ``choose()`` the value taken.

    The value is part of the identity, not data: from one state a task's next
    step is determined except at a choice, so only with the value does a
    wakeup sequence name one execution (two values are two conflicting
    events of one task, both explored from every state where the choice is
    made).
    """
    return (ev.task, ev.choice)


class RaceReversal:
    """The race analysis of :class:`~checker.schedulers.dpor.DPOR` (its base class):
    reads ``self.nodes``, ``self.base`` and ``self.new_from``; a sequence goes into
    node ``k``'s wakeup tree through ``self._add(k, v)``."""

    # Order a section on a CPU shared among several CPUs against the CPU's other
    # tasks by what it touches (checker.schedulers.contiguity), not by its
    # ownership changes.
    contiguous_sections = True
    # Executions whose reversal with that relation found no runnable order and
    # went back to the fine relation (counted for the benchmarks).
    fine_fallbacks = 0

    def _reverse_races(self, world) -> list:
        """Reverse the races of the execution's new part; returns its vector clocks."""
        try:
            return self._reverse(world, self.contiguous_sections)
        except _NotRunnable:
            # A reversal that no CPU can run from the node it belongs to (a step it
            # needs is held off by a section open there): this execution's races
            # are reversed by the fine relation, which orders every ownership
            # change (a finer relation only explores more).
            self.fine_fallbacks += 1
            return self._reverse(world, False)

    def _reverse(self, world, contiguous) -> list:
        evs = world.sched_events
        n = len(evs)
        rel = getattr(self, "_prefix_relation", None)
        if rel is None or rel.ntask != len(world.tasks):
            rel = self._prefix_relation = PrefixRelation(len(world.tasks))
        deps = rel.update(evs)
        hist = rel.hist
        self._ops = rel.ops
        cpu_oc = rel.cpu_oc
        cpu_all = rel.cpu_all
        self._spans = None
        if contiguous:
            got = coarse_relation(world, evs)
            if got is not None:
                deps, self._spans = got
        clocks = deps.clocks
        preds = self._preds = deps.preds
        prev = self._prev = deps.prev
        last_of_task = deps.last_of_task
        self._hist = hist

        def hb(i, m):
            return clocks[m][evs[i].task] >= evs[i].seq

        # Tasks a section that never ends keeps off their CPU, with their last step: a
        # sleeping step of one that never ran after node k is no weak initial
        # of a sequence inserted there (the trace it stands for ends with that
        # task still blocked, so no execution starting with the step has it).
        self._last_of_task = last_of_task
        self._world = world
        self._stranded = {ts.index: last_of_task[ts.index] for ts in world.tasks
                          if world.deadlocked and not ts.finished
                          and world.owner[ts.cpu] not in (None, ts.index)}

        for j in range(self.new_from, n):
            if preds[j]:
                self._races_of(evs[j], j, preds[j], prev[j], evs, hist, cpu_all, cpu_oc, hb)
        if world.deadlocked:
            # A task blocked at the end never ran its pending step, so no race of
            # that step was seen; treat it as a step after the last one.
            for ts in world.tasks:
                if ts.finished:
                    continue
                q = ts.index
                a = ts.pending
                # A pending choice never ran, so no value of it was tried here:
                # each is its own event.
                for v in (world.choices(q) if world.mm is not None
                          else a.arg if a.op == A.CHOOSE else (None,)):
                    e = _pending_event(world, ts, n)
                    e.choice = v
                    self._races_of(e, n, deps.direct(e), last_of_task[q], evs, hist, cpu_all, cpu_oc, hb)
            self._strand_invisible(world, evs, hb)
        return clocks

    def _strand_invisible(self, world, evs, hb) -> None:
        """A section that never ends keeps its CPU for good, so an invisible step of
        another task of that CPU that ran before the section started is *not*
        independent of the start: started first, the section keeps that step
        (and the rest of its task) from ever running, a different outcome.
        Each such step gets the sequence that starts the section before it.
        So does a ``choose()`` that touches nothing: it depends on its CPU's
        ownership changes, but a section between it and the start that touches
        nothing it depends on makes the two orders one trace for the race
        reversal (``coarse_relation``), and the task's choice, made or not, is
        what the outcome differs by (``bench.fuzz_dpor --parts --seed 50``,
        program 41)."""
        for c, o in enumerate(world.owner):
            if o is None or not world.shared_cpu[c] or world.tasks[o].finished:
                continue
            s = next((i for i in range(len(evs) - 1, -1, -1)
                      if evs[i].task == o and evs[i].xoc), None)
            if s is None:
                continue
            for k in range(max(self.base, 0), s):
                ek = evs[k]
                q = ek.task
                # Only a step that touches nothing and leaves its CPU's owner alone (an
                # invisible one, or a choice) can be stranded without a race showing it.
                if q == o or world.tasks[q].cpu != c or ek.kind or ek.fps or ek.oc:
                    continue
                # The step touches nothing: what comes after it only through its CPU
                # (a choice's ownership edges) may come before it.  What needs its
                # task's next step may not, nor may the section if it does.
                p = next((m for m in range(k + 1, s) if evs[m].task == q), None)
                if p is not None and hb(p, s):
                    continue
                v = [(event_key(evs[m]), event_fp(evs[m])) for m in range(k + 1, s)
                     if evs[m].task != q and not (p is not None and m > p and hb(p, m))]
                v.append((event_key(evs[s]), event_fp(evs[s])))
                node = self.nodes[k]
                if not any(in_weak_initials(sk, sf, v) for sk, sf in node.sleep.items()):
                    self._add(k, v)

    def _races_of(self, e, j, preds, prev, evs, hist, cpu_all, cpu_oc, hb) -> None:
        """Reverse every race of step ``e`` (at position ``j``; direct dependences
        ``preds``, its task's previous step ``prev``) with an earlier step."""
        q = e.task
        op = e.action.op
        cond_obj = op == A.SPIN or op == A.WAIT or (op == A.ACQUIRE and e.action.obj.blocking)
        cond_cpu = e.cpu >= 0

        sp = self._spans

        def enabled_at(k):
            if cond_obj and not self._obj_ok(e, k, j, hist, evs, hb):
                return False
            if cond_cpu:
                if sp is not None:
                    return cpu_ok(e, j, k, sp, hb)
                if not self._cpu_ok(e, k, j, cpu_oc, evs, hb):
                    return False
            return True

        # A predecessor e_j could not have preceded (its release, the write that
        # made its predicate true, the end of another task's atomic section) is
        # no intermediate: the race is with the step before which e_j was last
        # enabled (the previous acquire, the earlier write, the section start).
        reversible = {i: enabled_at(i) for i in preds}

        def immediate(k):
            if prev >= 0 and hb(k, prev):
                return False
            for d in preds:
                if d != k and reversible[d] and hb(k, d):
                    return False
            return True

        found = [i for i in preds if reversible[i] and immediate(i)]
        if cond_obj:
            seq = (self._ops if op == A.ACQUIRE or op == A.WAIT else hist).get(e.obj, ())
            # A step that commutes with e_j (another waiter, another reader) is
            # no race of it, however the condition stood before it.
            ek = e.kind
            k = self._walk_back(seq, j, q, evs,
                                lambda k: conflict(ek, _touch(evs[k], e.obj)[0])
                                and self._obj_cond(e, _touch(evs[k], e.obj)[1]))
            if k is not None and k not in reversible and immediate(k) and enabled_at(k):
                found.append(k)
        if cond_cpu:
            if sp is None:
                seq = cpu_all.get(e.cpu, ()) if e.oc else cpu_oc.get(e.cpu, ())
            else:
                seq = cpu_oc.get(e.cpu, ())
            k = self._walk_back(seq, j, q, evs, lambda k: evs[k].own is None or evs[k].own == q)
            if sp is not None and k is not None and not (k in sp.end and hb(sp.end[k], j)):
                # The section that kept e_j off its CPU touches nothing e_j depends
                # on: the two orders are one trace.
                k = None
            if k is not None and k not in reversible and k not in found and immediate(k) \
                    and enabled_at(k):
                found.append(k)
        for k in found:
            self._insert(k, e, j, evs, hb, cpu_oc)
            if j == len(evs) and e.own is not None and e.own != q:
                # A pending step kept off its CPU by a section that never ends:
                # the sequence that runs it first must also start that section
                # again after it, or a task of the CPU that the section would
                # keep out (and that sleeps here) looks like a weak initial.
                last = self._last_of_task[e.own]
                if last >= 0 and evs[last].oc:
                    self._insert(k, e, j, evs, hb, cpu_oc, tail=evs[last])

    @staticmethod
    def _walk_back(seq, j, q, evs, ok):
        """The latest step of ``seq`` before ``j``, by another task, before which ``ok`` holds."""
        lo, hi = 0, len(seq)
        while lo < hi:
            mid = (lo + hi) // 2
            if seq[mid] < j:
                lo = mid + 1
            else:
                hi = mid
        for idx in range(lo - 1, -1, -1):
            k = seq[idx]
            if evs[k].task == q:
                continue
            if ok(k):
                return k
        return None

    @staticmethod
    def _obj_cond(e, state) -> bool:
        a = e.action
        if a.op == A.SPIN:
            return bool(a.arg(state))
        return Lock.available_in(state, a.arg)

    def _obj_ok(self, e, k, j, hist, evs, hb) -> bool:
        """Whether ``e``'s object condition holds after ``pre(E, e_k) . notdep(e_k)``.

        A variable's writes are totally ordered, so the fold stops at the first
        one that happens after ``e_k``.  A lock's shared holds are not, nor are
        a variable's commuting additions: one that happens after ``e_k`` is
        left out and the fold goes on, adding the others' effects (a write
        after it happens after it, so stops the fold).
        """
        lock = e.action.op == A.ACQUIRE or e.action.op == A.WAIT
        seq = (self._ops if lock else hist).get(e.obj, ())
        state = e.pre
        started = False
        for p in seq:
            if p >= j:
                break
            if p < k:
                continue
            kind, pre, post = _touch(evs[p], e.obj)
            if not started:
                state = pre
                started = True
            if p == k or hb(k, p):
                if kind == W:
                    break
                continue
            if lock:
                state = _apply(state, pre, post)
            elif kind == W:
                state = post
            else:
                state = state + (post - pre)
        return self._obj_cond(e, state)

    @staticmethod
    def _cpu_ok(e, k, j, cpu_oc, evs, hb) -> bool:
        """Whether no other task owns ``e``'s CPU after ``pre(E, e_k) . notdep(e_k)``."""
        owner = e.own
        started = False
        for p in cpu_oc.get(e.cpu, ()):
            if p >= j:
                break
            if p < k:
                continue
            ep = evs[p]
            if not started:
                owner = ep.own
                started = True
            if p == k or hb(k, p):
                break
            owner = None if ep.own == ep.task else ep.task
        return owner is None or owner == e.task

    def _insert(self, k, ej, j, evs, hb, cpu_oc, tail=None) -> None:
        if k < self.base:
            return
        node = self.nodes[k]
        sp = self._spans
        if sp is not None:
            order = runnable([m for m in range(k + 1, len(evs)) if m != j and not hb(k, m)] + [j],
                             evs, hb, owners_at(k, sp), sp.end)
            if order is None:
                # e_j needs a step a section open at e_k keeps off its CPU.
                k, order = before_section(k, j, evs, hb, sp, self.fixed)
                if order is None:
                    raise _NotRunnable
                node = self.nodes[k]
            v = [(event_key(evs[m]), event_fp(evs[m])) for m in order]
            self._insert_v(node, k, v)
            return
        v = []
        owner = None
        for m in range(k + 1, len(evs)):
            if m == j or hb(k, m):
                continue
            em = evs[m]
            c = em.cpu
            if c >= 0:
                if owner is None:
                    owner = self._owners_before(k, evs, cpu_oc)
                o = owner.get(c)
                if o is not None and o != em.task:
                    # An invisible step whose CPU a section kept busy past the
                    # end of this sequence (its end happens after e_k): it ran
                    # after that section, and nothing in the sequence needs it.
                    continue
                if em.xoc:
                    owner[c] = None if em.own == em.task else em.task
            v.append((event_key(em), event_fp(em)))
        v.append((event_key(ej), event_fp(ej)))
        if tail is not None:
            v = [x for x in v if x[0][0] != tail.task] + [(event_key(tail), event_fp(tail))]
            if tail.index < k or any(evs[m].task == tail.task and not hb(k, m) and m != tail.index
                                     for m in range(k + 1, len(evs))):
                return      # the section's task has other steps here: not this shape
        self._insert_v(node, k, v)

    def _insert_v(self, node, k, v) -> None:
        evs = self._world.sched_events
        stranded = self._stranded
        for sk, sf in node.sleep.items():
            if stranded.get(sk[0], k) < k:
                continue
            if sk[1] is not None and not any(x[0][0] == sk[0] for x in v):
                # A sleeping choice value covers v only if every value of that
                # choice sleeps independently of v: v's extension may take any.
                if self._all_values_sleep(node, sk[0], k, evs, v):
                    return
                continue
            if in_weak_initials(sk, sf, v):
                return
        self._add(k, v)

    def _add(self, k, v) -> None:
        """Insert sequence ``v`` into node ``k``'s wakeup tree (a stolen subtree's
        search, checker/schedulers/steal.py, hands those above its root back)."""
        insert(self.nodes[k].wakeup, v)

    def _all_values_sleep(self, node, task, k, evs, v) -> bool:
        """Whether every value of ``task``'s pending choice at node ``k`` is asleep
        there and independent of ``v``."""
        action = next((e.action for e in evs[k:] if e.task == task), None)
        if action is None:
            action = self._world.tasks[task].pending
        if action is None or action.op != A.CHOOSE:
            return False
        for value in action.arg:
            f = node.sleep.get((task, value))
            if f is None or any(dependent(f, wf) for _, wf in v):
                return False
        return True

    @staticmethod
    def _owners_before(k, evs, cpu_oc) -> dict:
        """Each shared CPU's owner in the state before step ``k``."""
        out = {}
        for c, seq in cpu_oc.items():
            o = None
            for p in seq:
                if p >= k:
                    break
                ep = evs[p]
                o = None if ep.own == ep.task else ep.task
            out[c] = o
        return out
