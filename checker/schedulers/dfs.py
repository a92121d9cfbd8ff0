"""``dfs``: every interleaving, no reduction.  The oracle ``dpor`` is tested against.

Depth-first over the tree whose branches at each state are the enabled steps
(task, choice value), in task order.  Stateless: each execution replays its
prefix from a fresh ``build()``.  With a preemption bound, branches that would
exceed it are cut, so every interleaving within the bound is explored.
"""

from __future__ import annotations

from ..actions import CHOOSE
from .base import BaseScheduler


class DFS(BaseScheduler):
    # Every choice the World offers is a branch: a weak model's too.
    memory_models = ("sc", "ra")
    footprints = False      # every order of the steps

    def __init__(self, preemption_bound=None, name="dfs"):
        self.name = name
        self.bound = preemption_bound
        self.stack = []      # [alternatives, index of the one being explored]
        self.depth = 0
        self.started = False
        self.done = False
        self.cut = 0         # branches the preemption bound removed

    def new_execution(self) -> bool:
        if self.done:
            return False
        self.started = True
        self.depth = 0
        return True

    def pick(self, world, enabled):
        d = self.depth
        self.depth = d + 1
        stack = self.stack
        if d < len(stack):
            node = stack[d]
            return node[0][node[1]]
        alts = []
        if world.mm is not None:
            for t in enabled:
                alts.extend((t, c) for c in world.choices(t))
        else:
            for t in enabled:
                a = world.tasks[t].pending
                if a.op == CHOOSE:
                    alts.extend((t, c) for c in a.arg)
                else:
                    alts.append((t, None))
        if self.bound is not None:
            left = self.bound - world.preemptions
            if left <= 0:
                kept = [a for a in alts if not world.would_preempt(a[0])]
                self.cut += len(alts) - len(kept)
                alts = kept
            if not alts:
                return False
        stack.append([alts, 0])
        return alts[0]

    def end_execution(self, world, status) -> None:
        stack = self.stack
        del stack[self.depth:]
        while stack:
            node = stack[-1]
            node[1] += 1
            if node[1] < len(node[0]):
                return
            stack.pop()
        self.done = True
