"""Lockdep's dependency graph of lock classes, with read/write dependency kinds.

This is the data structure of the kernel's lockdep (kernel/locking/lockdep.c,
Documentation/locking/lockdep-design.rst, "Recursive read locks"), kept by
``lock-order`` across every execution of one exploration.

Nodes are lock classes: ``(Lock.cls, subclass)``, the subclass being the
``nested`` annotation (``spin_lock_nested``); lockdep gives each subclass a
class of its own, shown as ``name/N``.

An edge ``prev -> next`` records that some task acquired ``next`` while
holding ``prev``.  Each edge carries the set of its *dependency kinds*
(lockdep's ``lock_list::dep``), named by how ``prev`` was held and how
``next`` was acquired:

==== ===========================================================
EN   prev held Exclusively, next acquired Non-recursively
ER   prev held Exclusively, next acquired as a Recursive reader
SN   prev held Shared (any reader), next acquired Non-recursively
SR   prev held Shared, next acquired as a Recursive reader
==== ===========================================================

A writer and a non-recursive reader are both "N" as ``next``; only a
recursive reader is "R".  A path is *strong* when no two adjacent edges are
``-(*R)-> L -(S*)->``: a recursive read of L cannot be blocked by a holder
that only reads L.  lockdep reports a deadlock exactly when adding an edge
closes a strong cycle (the *closed strong dependency path* of
lockdep-design.rst, which proves it necessary and sufficient); with no
readers this is plain cycle detection.  Like ``check_noncircular()`` the
search runs when a new ``(prev, next, kind)`` is added, breadth first from
``next`` looking for ``prev``, so the cycle it returns is a shortest one.
"""

from __future__ import annotations

from collections import deque

EN, ER, SN, SR = 1, 2, 4, 8
ALL = EN | ER | SN | SR
E_START = EN | ER          # edges that may follow a -(*R)-> edge on a strong path
N_END = EN | SN
R_END = ER | SR
KIND_NAMES = {EN: "EN", ER: "ER", SN: "SN", SR: "SR"}


def kind_of(prev_shared: bool, next_recursive: bool) -> int:
    """The dependency kind of taking ``next`` while holding ``prev``."""
    return 1 << ((2 if prev_shared else 0) + (1 if next_recursive else 0))


def _dominates(a: int, b: int) -> bool:
    """Whether kind ``a`` fits wherever kind ``b`` fits on a strong path.

    E starts are weaker constraints than S starts and N ends than R ends,
    so a strong cycle through ``b`` stays strong with ``a`` in its place.
    """
    a_s, a_r = bool(a & (SN | SR)), bool(a & R_END)
    b_s, b_r = bool(b & (SN | SR)), bool(b & R_END)
    return (not a_s or b_s) and (not a_r or b_r)


def class_name(key) -> str:
    """``class->lock`` or, for a nested subclass, ``class->lock/1`` (lockdep's notation)."""
    cls, sub = key
    return f"{cls}/{sub}" if sub else cls


class LockGraph:
    """The lock-class dependency graph: ``adj[prev][next]`` is a mask of kinds.

    invariant: every (prev, next, kind) present in ``adj`` has an entry in
    ``first`` (whatever the caller recorded when it was first seen).
    """

    __slots__ = ("adj", "first")

    def __init__(self):
        self.adj = {}
        self.first = {}

    def copy(self) -> "LockGraph":
        g = LockGraph()
        g.adj = {k: dict(v) for k, v in self.adj.items()}
        g.first = dict(self.first)
        return g

    def __contains__(self, triple) -> bool:
        prev, nxt, kind = triple
        return bool(self.adj.get(prev, {}).get(nxt, 0) & kind)

    def add(self, prev, nxt, kind: int, info=None):
        """Add ``prev -(kind)-> next``; returns the strong cycle it closes, or None.

        The cycle is a list of ``(from, to, kind)`` edges starting with the new
        one and ending at ``prev``.  Adding a triple already present does
        nothing and returns None; so does a kind dominated by one the edge
        already has (any strong cycle through it was found with the other).
        """
        out = self.adj.setdefault(prev, {})
        have = out.get(nxt, 0)
        if have & kind:
            return None
        out[nxt] = have | kind
        self.first[(prev, nxt, kind)] = info
        if any(_dominates(k, kind) for k in KIND_NAMES if have & k):
            return None
        path = self._strong_path(nxt, prev, bool(kind & R_END), bool(kind & (SN | SR)))
        if path is None:
            return None
        return [(prev, nxt, kind)] + path

    def _strong_path(self, src, dst, start_r: bool, dst_shared: bool):
        """A shortest strong path ``src -> .. -> dst`` that closes a strong cycle.

        ``start_r``: the closing edge ends in a recursive read of ``src``, so
        the path's first edge must start Exclusive.  ``dst_shared``: the
        closing edge starts from a shared hold of ``dst``, so the path's last
        edge must not end in a recursive read.  States are (class, whether
        the edge into it was -(*R)->); (c, False) dominates (c, True).
        """
        adj = self.adj
        start = (src, start_r)
        parent = {start: None}
        queue = deque([start])
        while queue:
            state = queue.popleft()
            node, in_r = state
            allowed = E_START if in_r else ALL
            for v, mask in adj.get(node, {}).items():
                m = mask & allowed
                if not m:
                    continue
                for r, ends in ((False, N_END), (True, R_END)):
                    bits = m & ends
                    if not bits:
                        continue
                    nxt_state = (v, r)
                    if nxt_state in parent or (r and (v, False) in parent):
                        continue
                    bit = bits & -bits     # any kind allowed here will do for the report
                    parent[nxt_state] = (state, bit)
                    if v == dst and not (r and dst_shared):
                        return _unwind(parent, nxt_state)
                    queue.append(nxt_state)
        return None


def _unwind(parent, state):
    edges = []
    while parent[state] is not None:
        prev_state, bit = parent[state]
        edges.append((prev_state[0], state[0], bit))
        state = prev_state
    edges.reverse()
    return edges
