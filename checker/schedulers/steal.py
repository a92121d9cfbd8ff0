"""``dpor`` that gives away unexplored branches of its tree (work stealing, issue 14).

A split search's subtrees (checker/split.py) are rarely of one size, so a
process that runs out of work asks a busy one for a part of its search
(checker/stealing.py runs both sides).  The part given is a branch still to
explore (the first not given yet) at the shallowest node of the giver's
current path that has one: a :class:`Theft`, plain data.  The thief explores it as the
serial search would when it gets there, and the giver *joins* it when its
own search gets there, doing what the serial search does between the end of
that branch and its next step.  What the serial search's exploration of a
branch reads, and what it changes:

* it reads the path's events (the prefix), the sleep sets of the nodes on
  the path (a node's sleep set only changes when its own branch ends, which
  is after the join), the branch's wakeup subtree, and the reductions'
  declarations (guards, counters, the mixed sections' learned protection, references);
* it changes the wakeup trees of the nodes on the path (races whose earlier
  step is there; the other values of a choice), their sleep sets at the end
  (the branch goes to sleep at its node) and the protection's execution count.

So the thief gets copies of what it reads, and records, in order, what it
would change above its root instead of changing it; the giver replays those
changes at the join, in the serial order (its own earlier changes came
first: they were made while it explored the branches before).  What it
cannot know in advance is checked at the join: the giver's own search may
have inserted into the given branch's subtree after it was given (a race of
an earlier branch whose reversal starts with the given event), or learned
protection the thief did not have, and the thief may have restarted (a
broken declaration) or learned protection.  Then the theft is discarded and
the giver explores the branch itself, as the serial search would.  An
accepted theft is therefore the serial search's exploration of that branch,
execution for execution: the counts, deadlocks, outcomes and violations of
the union are the serial search's (tested: tests/test_steal.py).
"""

from __future__ import annotations

import copy
import itertools
import os
from dataclasses import dataclass, field

from ..reductions import GuardedSections
from .dpor import DPOR, Node
from .wakeup import WNode, insert


class Dropped(Exception):
    """The given branch cannot be taken at its node (the serial search drops it too)."""


class Poisoned(Exception):
    """The thief's search would start again (a declaration broke): its giver explores
    the branch itself, as the serial search would, and starts again there."""


@dataclass
class Theft:
    """A branch given away: positions ``0..len(prefix)-1`` are its path, the last
    one the given event; ``sleeps``: the sleep sets of nodes ``base..`` of the
    path, the last one with the giver's current branch in it; ``sub``: the
    branch's wakeup subtree (:func:`freeze`).  ``decl``: the giver's
    declarations (guards, counters, protection, references)."""

    id: int
    prefix: list
    base: int
    sleeps: list
    sub: tuple
    decl: tuple
    root: tuple = ()            # (program index, plan job index): for cancelling


@dataclass
class Outcome:
    """What a thief hands back: ``status`` ``done`` (the branch explored),
    ``dropped`` (not takeable at its node) or ``poisoned`` (explore it again
    at the giver).  ``changes``: what the serial search would have changed
    above the theft's root, in order; ``results``/``states``: the results and
    exported monitor states of the thief and of every theft it joined."""

    status: str
    key: tuple = None
    fp: tuple = None
    changes: list = field(default_factory=list)
    results: list = field(default_factory=list)
    states: list = field(default_factory=list)
    runs: int = 0
    stopped: bool = False


def freeze(children) -> tuple:
    """A wakeup (sub)tree as plain, comparable data."""
    return tuple((c.key, c.fp, freeze(c.children)) for c in children)


def thaw(frozen) -> list:
    return [WNode(k, f, thaw(ch)) for k, f, ch in frozen]


def protection_state(p) -> tuple:
    """What of a learned protection decides the search's steps (its run count aside)."""
    return (sorted(p.held.items(), key=repr), sorted(p.tried, key=repr), sorted(p.used, key=repr),
            sorted(p.pending.items(), key=repr), p.stale_at)


class StealingDPOR(DPOR):
    """:class:`DPOR` with a ``broker`` (checker/stealing.py) that asks it for
    branches between executions and hands back what the thieves found.  With
    ``theft`` it is the thief's search of that branch."""

    def __init__(self, prefix=(), guards=True, broker=None, theft=None, trusted=None):
        super().__init__(theft.prefix if theft is not None else prefix, guards=guards)
        self.broker = broker
        self.theft = theft
        self.trusted = trusted          # the exploration's Declarations (explore(declarations=))
        self.given = {}                 # id(WNode) -> (theft id, frozen subtree, protection state)
        self.joined = []                # outcomes joined, in the serial order
        self.changes = []               # a thief's changes above its root, in order
        self.started = False
        self._predicted = {}            # node -> the footprint its current branch's entry carried
        self.root = theft.root if theft is not None else (0, 0)
        if theft is not None:
            self.base = theft.base
            self.new_from = self.fixed - 1
            for d, key in enumerate(self.prefix):
                sleep = dict(theft.sleeps[d - self.base]) if d >= self.base else {}
                self.nodes.append(Node(sleep, [], key, None))
            self.nodes[-1].sub = thaw(theft.sub)

    def reset(self) -> None:
        if self.theft is not None:
            raise Poisoned()
        if self.broker is not None:
            self.broker.cancel([g[0] for g in self.given.values()])
        root = self.root
        self.__init__(self.prefix, guards=GuardedSections in self.reductions, broker=self.broker,
                      trusted=self.trusted)
        self.root = root

    # -- the thief -------------------------------------------------------------
    def pick(self, world, enabled):
        d = self.depth
        if self.theft is None or self.started or d != self.fixed - 1:
            return super().pick(world, enabled)
        # The branch's first step, as the serial search takes it after backtracking.
        self.started = True
        self.depth = d + 1
        node = self.nodes[d]
        if node.key[0] not in enabled or not self._refit(world, node) or node.key in node.sleep:
            raise Dropped()
        self.prefix[d] = node.key
        self.guide = node.sub
        self._other_values(world, node)
        if node.wakeup:
            self.changes.append(("values", d, [(c.key, c.fp) for c in node.wakeup]))
            node.wakeup.clear()
        return node.key

    def _add(self, k, v) -> None:
        if k < self.fixed:
            self.changes.append(("add", k, v))
        else:
            insert(self.nodes[k].wakeup, v)

    # -- the giver -------------------------------------------------------------
    def new_execution(self) -> bool:
        broker = self.broker
        if broker is not None and not self.done and broker.asked():
            broker.give(self._give())
        return super().new_execution()

    def _give(self):
        """A branch of the shallowest node that has one not given yet, or None.

        Its sleep set at the join is predicted: the node's sleep set now, the
        current branch and the branches before it with the footprints their
        wakeup entries carry; the join checks the prediction."""
        nodes = self.nodes
        prot = self.trusted.protection if self.trusted is not None else None
        if prot is not None and prot.stale:
            return None
        for d in range(self.fixed, len(nodes)):
            node = nodes[d]
            fp = node.fp if node.fp is not None else self._predicted.get(d)
            if fp is None or fp[1] is None or not node.wakeup:
                continue
            sleep = dict(node.sleep)
            sleep[node.key] = fp
            for child in node.wakeup:
                if id(child) not in self.given:
                    break
                if child.fp[1] is None:         # an untried value: its footprint is unknown
                    child = None
                    break
                sleep[child.key] = child.fp
            else:
                continue
            if child is None:
                continue
            sleeps = [dict(n.sleep) for n in nodes[self.base:d]] + [dict(sleep)]
            t = self.trusted
            decl = (t.guards, t.counters, copy.deepcopy(t.protection), t.references) \
                if t is not None else (True, True, None, True)
            frozen = freeze(child.children)
            theft = Theft((os.getpid(), next(_ids)), [n.key for n in nodes[:d]] + [child.key], self.base,
                          sleeps, frozen, decl, self.root)
            # The entry holds the child: its id is not reused while it is given.
            self.given[id(child)] = (theft.id, frozen, None if prot is None else protection_state(prot),
                                     sleep, child)
            return theft
        return None

    def _next_child(self, d, node):
        wakeup = node.wakeup
        while wakeup:
            child = wakeup.pop(0)
            got = self.given.pop(id(child), None)
            if got is None:
                self._predicted[d] = child.fp
                return child
            out = self.broker.join(got[0])
            if out is None:             # the search was stopped meanwhile
                self.done = True
                self.incomplete_reason = "stopped"
                return None
            if out.status in ("poisoned", "dropped") or not self._as_predicted(node, child, got):
                # Explored here, as the serial search would.  A dropped branch too: the
                # serial search replays to its node and drops it there, in a redundant
                # run when no branch of the node is left after it (skipping it here lost
                # that run: tests/test_steal.py, a read against two writes under ra).
                self._predicted[d] = child.fp
                return child
            self._apply(d, node, out)
            if out.stopped:
                self.done = True
                return None
        return None

    def _as_predicted(self, node, child, got) -> bool:
        """Whether the serial search would explore ``child`` from what the thief got:
        the same sleep set at its node, the same wakeup subtree, the same protection."""
        _, frozen, prot, sleep, _ = got
        return node.sleep == sleep and freeze(child.children) == frozen and (
            prot is None or protection_state(self.trusted.protection) == prot)

    def _dropped_before(self, child) -> None:
        # The serial search explores it with the dropped branch awake: not the sleep
        # set the thief was given.
        got = self.given.pop(id(child), None)
        if got is not None:
            self.broker.cancel([got[0]])

    def _apply(self, d, node, out) -> None:
        """What the serial search changes above the branch, in its order."""
        for change in out.changes:
            if change[0] == "values":
                n = self.nodes[change[1]]
                have = {c.key for c in n.wakeup}
                for k, fp in change[2]:
                    if k not in n.sleep and k not in have:
                        n.wakeup.append(WNode(k, fp))
            else:
                self._add(change[1], change[2])
        node.sleep[out.key] = out.fp
        if self.trusted is not None:
            self.trusted.protection.runs += out.runs
        self.joined.append(out)


_ids = itertools.count(1)
