"""Dependence: which steps of an execution must keep their order.

Every search result rests on one relation (docs/design.md, "Dependence").
Two steps of an execution are *dependent* when

* they are steps of one task (program order);
* they touch one object in conflicting ways (:func:`checker.actions.conflict`:
  one of them writes, and every lock operation writes its lock; or they
  touch it differently, a read and an addition, an addition and a put); two
  reads commute, and so do two commuting additions or two puts;
* they are steps of different tasks on one shared CPU and one of them changes
  its task's ownership of the CPU (``Event.oc``: becomes atomic or
  preemptible again, or is a spinning trylock that could), because that
  enables or disables the other tasks of the CPU.

A step's *footprint* (:func:`footprint`) is what it touched, as ``(object
uid, kind)`` pairs; a footprint never depends on the step's result, so steps
of different executions compare.  *Happens-before* is the transitive closure
of dependence along the order of an execution; two executions with the same
events and the same happens-before are one Mazurkiewicz trace.

**The one parameter: invisible steps.**  A step with no footprint that leaves
its CPU's ownership alone and is no choice (a label, ``might_sleep``,
``schedule()``, a nested ``preempt_disable``) is *invisible*.  Whether it is
ordered against the ownership changes of its CPU's other tasks depends on what
happens-before is for, and ``invisible`` says which:

* ``invisible=False`` (``dpor``, bounded ``dpor``, the split search): it is
  not.  Where both orders can run, an invisible step and another task's
  atomic section reach the same state; that the section keeps the step off
  its CPU meanwhile is a matter of *enabledness*, which dpor's race reversal
  checks itself (checker/schedulers/reversal.py).  Ordering them would cost
  executions (``up-read-compact`` at depth 2: 9,312 against 20,201).
* ``invisible=True`` (the minimiser): it is.  The minimiser asks z3 for an
  ordering of a trace's steps that respects happens-before and replays it,
  with no enabledness check of its own: every such ordering must be an
  execution, and an invisible step cannot run inside another task's atomic
  section.  (Without it, tests/test_dependence.py shows orderings that
  respect happens-before and that no CPU can run.)

Everything else is the same for both: tests/test_dependence.py checks on
the differential fuzzer's programs that the minimiser's happens-before is
dpor's but for invisible steps on a shared CPU.

Who uses it: :mod:`checker.schedulers.dpor` and
:mod:`checker.schedulers.reversal` (sleep sets, wakeup trees, vector clocks,
trace keys), :mod:`checker.schedulers.bounded_dpor` (trace states),
:mod:`checker.split` (sleep sets above the cut), :mod:`checker.minimize`
(the causal slice and the orderings z3 may choose) and ``bench.traces``
(the naive trace counter).  :mod:`checker.races` orders plain accesses by
the object part alone, and deliberately not by the CPU: a race must be a
property of the trace, the same for every ordering of it.
"""

from __future__ import annotations

from . import actions as A
from .actions import conflict

W = A.W


def footprint(ev) -> tuple:
    """``((obj, kind), ...)``: how step ``ev`` touched each object (fast for one step)."""
    if ev.fps is None:
        return ((ev.obj, ev.kind),) if ev.kind else ()
    return tuple((o, k) for o, k, _, _ in ev.fps)


def step_cpu(ev, invisible: bool = False) -> int:
    """The shared CPU through which step ``ev`` interacts with other tasks, or -1.

    An invisible step (no footprint, no ownership change, not a ``choose()``,
    whose node enumerates values) interacts through its CPU only if
    ``invisible`` (see the module docstring).
    """
    if invisible or ev.kind or ev.oc or ev.fps or ev.action.op == A.CHOOSE:
        return ev.cpu
    return -1


def event_fp(ev, invisible: bool = False) -> tuple:
    """``(task, footprint, cpu, oc)``: all that :func:`dependent` needs of step ``ev``."""
    return (ev.task, footprint(ev), step_cpu(ev, invisible), ev.oc)


def dependent(a, b) -> bool:
    """Whether two steps with footprints ``a``, ``b`` (:func:`event_fp`) are dependent."""
    if a[0] == b[0]:
        return True
    c = a[2]
    if c >= 0 and c == b[2] and (a[3] or b[3]):
        return True
    for o, k in a[1]:
        for o2, k2 in b[1]:
            if o == o2 and conflict(k, k2):
                return True
    return False


class Dependences:
    """Happens-before of one execution, built one step at a time.

    For each step added: ``preds[j]``, the earlier steps of other tasks it
    directly depends on (enough that, with program order, their transitive
    closure is dependence); ``prev[j]``, its task's previous step (-1); and
    ``clocks[j]``, its vector clock (``clocks[m][task of i] >= seq of i``:
    step ``i`` happens before step ``m``).
    """

    __slots__ = ("invisible", "ntask", "clocks", "preds", "prev", "task_of", "last_of_task",
                 "last_w", "reads", "last_oc", "since_oc")

    def __init__(self, ntask: int, invisible: bool = False):
        self.invisible = invisible
        self.ntask = ntask
        self.clocks = []
        self.preds = []
        self.prev = []
        self.task_of = []
        self.last_of_task = [-1] * ntask
        self.last_w = {}        # object -> its last write
        self.reads = {}         # object -> [(step, kind)]: reads and commuting additions since
        self.last_oc = {}       # shared CPU -> its last ownership change
        self.since_oc = {}      # shared CPU -> the steps on it since (that interact through it)

    def direct(self, e) -> list:
        """The steps so far of other tasks that step ``e`` (not added) directly depends on.

        In a fixed order: per object its last write, then the conflicting
        reads since; then the CPU's last ownership change and, if ``e``
        changes it, the steps since (dpor reverses races in this order).
        """
        return self._direct(e, footprint(e), step_cpu(e, self.invisible))

    def _direct(self, e, objs, c) -> list:
        dl = []
        last_w = self.last_w
        reads = self.reads
        for o, kind in objs:
            lw = last_w.get(o)
            if lw is not None:
                dl.append(lw)
            rs = reads.get(o)
            if rs:
                dl.extend(r for r, rk in rs if conflict(kind, rk))
        if c >= 0:
            lo = self.last_oc.get(c)
            if lo is not None:
                dl.append(lo)
            if e.oc:
                dl.extend(self.since_oc.get(c, ()))
        q = e.task
        task_of = self.task_of
        return [i for i in dl if task_of[i] != q]

    def add(self, e, objs=None, c=None, extra=()) -> list:
        """Append step ``e`` (the next of the execution); returns its vector clock.

        ``objs``, ``c``: ``footprint(e)`` and ``step_cpu(e, invisible)``, if the
        caller has them already (dpor's race analysis does).  ``extra``: earlier
        steps of other tasks ``e`` depends on besides (checker.schedulers.contiguity)."""
        if objs is None:
            objs = footprint(e)
            c = step_cpu(e, self.invisible)
        dl = self._direct(e, objs, c)
        if extra:
            dl.extend(i for i in extra if i not in dl)
        j = len(self.clocks)
        q = e.task
        p = self.last_of_task[q]
        clocks = self.clocks
        vc = list(clocks[p]) if p >= 0 else [0] * self.ntask
        for o, kind in objs:
            if kind == W:
                self.last_w[o] = j
                self.reads[o] = []
            else:
                self.reads.setdefault(o, []).append((j, kind))
        if c >= 0:
            if e.oc:
                self.last_oc[c] = j
                self.since_oc[c] = []
            else:
                self.since_oc.setdefault(c, []).append(j)
        r = range(self.ntask)
        for i in dl:
            ci = clocks[i]
            for k in r:
                if ci[k] > vc[k]:
                    vc[k] = ci[k]
        vc[q] = e.seq
        clocks.append(vc)
        self.preds.append(dl)
        self.prev.append(p)
        self.task_of.append(q)
        self.last_of_task[q] = j
        return vc


def direct_dependences(events, ntask: int, *, invisible: bool) -> list:
    """For each step of ``events`` (an execution's, in order), the sorted earlier
    steps it directly depends on: its task's previous step and :attr:`Dependences.preds`."""
    d = Dependences(ntask, invisible)
    out = []
    for e in events:
        d.add(e)
        p = d.prev[-1]
        out.append(sorted(set(d.preds[-1]) | ({p} if p >= 0 else set())))
    return out


def happens_before(deps: list) -> list:
    """``closure[j]``: bitset of the steps that happen before step ``j``, from
    :func:`direct_dependences`."""
    closure = []
    for d in deps:
        m = 0
        for i in d:
            m |= closure[i] | (1 << i)
        closure.append(m)
    return closure
