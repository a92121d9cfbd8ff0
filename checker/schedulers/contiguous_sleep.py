"""Sleep sets by the contiguity relation on a CPU shared among several CPUs (issue 18).

:mod:`checker.schedulers.contiguity` reverses races with happens-before by
objects and program order, closed under contiguity; sleep sets kept the fine
relation, in which a section's start and end (ownership changes) are
dependent with every step of the CPU's other tasks.  So a step X of task T on
shared CPU c, asleep at a node (every trace starting with X from there was
explored), was woken by the first section start of another task of c on the
path, although the section touched nothing of X: after the section X ran
again, into a trace already explored (``bench/mixed_sources.py``: ``mixed-b``
explored 7,751 executions for 2,639 traces).

Here a sleeping step that is no ownership change (``oc`` false) is woken only
by a step of its own task or one that conflicts with it on an object.  Why
that is sound: X stays asleep along a path ``p1 .. pm`` only if it conflicts
with none of them by objects.  X is no ownership change, so taking it first
disables nothing in the path; and a section of c in the path is, in the
contiguity relation, ordered before X only through an event of its span that
X depends on, which there is not.  So ``X . p1 .. pm`` runs and has the same
happens-before as ``p1 .. pm . X`` (X after the span of every section in the
path, where c lets it run), the same trace, explored under X's branch.
(An execution whose section never ends is analysed with the fine relation;
there X, kept off c for good, never runs, and the sleep set decides nothing.)
A sleeping ownership change keeps the fine rule: it is only the first event
of its section, whose later events the sleep set does not know, so a CPU
mate's step may conflict with them.  Weak initials keep the fine relation (it
cut nothing more on the measured programs).  Applied where the contiguity
relation is, with several CPUs and a shared one (``DPOR.contiguous_sleep``).
"""

from __future__ import annotations

from ..dependence import dependent


def sleep_dependent(f, p) -> bool:
    """Whether the step ``p`` just taken wakes the sleeping step ``f`` (both
    :func:`~checker.dependence.event_fp`): a sleeping ownership change by the
    fine relation, any other sleeper by its task and objects only."""
    return dependent(f, p if f[3] else (p[0], p[1], -1, p[3]))
