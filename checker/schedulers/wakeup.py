"""Wakeup trees and sleep sets of optimal DPOR.

Abdulla, Aronis, Jonsson and Sagonas, "Optimal Dynamic Partial Order
Reduction", POPL 2014 (section 6).  An *event* here is identified by its key
``(task, choice)``: from a given state a task's next step is determined by the
task, except for ``choose()``, whose value is part of the key.  Its
*footprint* ``(task, ((obj, kind), ...), cpu, oc)`` decides dependence:
:func:`checker.dependence.dependent` (the one definition, docs/design.md
"Dependence").  A footprint whose objects are None stands for a choice value
not tried yet, whose code is unknown: it is no weak initial of anything
but the empty sequence.
"""

from __future__ import annotations

from ..dependence import dependent


class WNode:
    """A node of a wakeup tree: an event and the ordered subtrees below it."""

    __slots__ = ("key", "fp", "children")

    def __init__(self, key, fp, children=None):
        self.key = key
        self.fp = fp
        self.children = children if children is not None else []

    def __repr__(self) -> str:
        return f"<WNode {self.key} {len(self.children)} children>"


def in_weak_initials(key, fp, w) -> bool:
    """Whether event ``key`` (footprint ``fp``) is a weak initial of sequence ``w``.

    ``w`` is a list of ``(key, fp)``.  True when the task's first event in ``w``
    is ``key`` and depends on nothing before it in ``w``, or when the task does
    not occur in ``w`` and ``fp`` is independent of all of ``w``.
    """
    t = key[0]
    for idx in range(len(w)):
        wk, wf = w[idx]
        if wk[0] == t:
            if wk != key:
                return False
            for m in range(idx):
                if dependent(w[m][1], wf):
                    return False
            return True
    if fp[1] is None or key[1] is not None:
        # An untried choice value's footprint is unknown; and a choice value
        # is not a weak initial of a sequence without its task, whose
        # extension may take another value (dpor checks a sleeping value's
        # siblings itself).
        return not w
    for _, wf in w:
        if dependent(fp, wf):
            return False
    return True


def _without_first(w, task):
    for i in range(len(w)):
        if w[i][0][0] == task:
            return w[:i] + w[i + 1:]
    return w


def insert(children: list, v: list) -> bool:
    """Insert sequence ``v`` into the wakeup tree whose root has ``children``.

    Walks down the leftmost child that is a weak initial of what remains of
    ``v``; stops at a leaf (an equivalent extension will be explored anyway);
    otherwise adds the remainder as the rightmost branch.  Returns whether a
    branch was added.
    """
    w = v
    while True:
        for c in children:
            if in_weak_initials(c.key, c.fp, w):
                if not c.children:
                    return False
                w = _without_first(w, c.key[0])
                children = c.children
                break
        else:
            if not w:
                return False
            head = WNode(w[0][0], w[0][1])
            node = head
            for k, f in w[1:]:
                nxt = WNode(k, f)
                node.children.append(nxt)
                node = nxt
            children.append(head)
            return True
