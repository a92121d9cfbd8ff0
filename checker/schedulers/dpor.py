"""``dpor``: optimal dynamic partial-order reduction with wakeup trees.

Abdulla, Aronis, Jonsson and Sagonas, "Optimal Dynamic Partial Order
Reduction", POPL 2014: one execution per Mazurkiewicz trace, no sleep-set
blocked runs.  The search is stateless: every execution replays its prefix
from a fresh ``build()``.

Per position ``i`` of the current execution the scheduler keeps a
:class:`Node`: the sleep set (events already explored from that state, with
their footprints), the wakeup tree still to explore, and the event taken.  At
the end of each maximal execution the races of its new part are reversed
(checker/schedulers/reversal.py), which adds branches to the wakeup trees;
then the search backtracks to the deepest node with a branch left.
Dependence, footprints and vector clocks are :mod:`checker.dependence`'s
(``invisible=False``); events are named by :func:`reversal.event_key`.
"""

from __future__ import annotations

import hashlib

from .. import actions as A
from ..dependence import dependent, event_fp
from ..errors import InternalError
from ..mixed import MixedSections
from ..reductions import SECTIONS, GuardedSections, MacroSteps
from .base import BaseScheduler
from .contiguous_sleep import sleep_dependent
from .replay import jsonable
from .reversal import RaceReversal
from .wakeup import WNode


def trace_key(evs, clocks) -> int:
    """A digest of an execution's Mazurkiewicz trace: same events, same
    happens-before (the vector clocks say both).  Stable across processes and
    Python runs, so keys from Dask workers and from a checkpoint written by
    another run compare: ``hash()`` of tuples of ints is, but not of a string
    (salted) nor, before Python 3.12, of None, so a choice that is not an int
    becomes one (a BLAKE2 digest of its JSON form)."""
    return hash(frozenset((e.task, e.seq, _stable(e.choice), tuple(clocks[j])) for j, e in enumerate(evs)))


_STABLE = {}


def _stable(choice) -> int:
    if type(choice) is int:
        return choice
    got = _STABLE.get(choice) if choice is None or isinstance(choice, (str, tuple)) else None
    if got is None:
        got = int.from_bytes(hashlib.blake2b(repr(jsonable(choice)).encode(), digest_size=8).digest(), "big")
        if choice is None or isinstance(choice, (str, tuple)):
            _STABLE[choice] = got
    return got


class Node:
    """One position of the current execution.

    ``sleep``: event key -> footprint of the events explored from here (or
    asleep on arrival); ``wakeup``: the wakeup tree still to explore from
    here (a list of :class:`~checker.schedulers.wakeup.WNode`); ``key``: the
    event taken, ``fp`` its footprint (:func:`~checker.dependence.event_fp`,
    None until it ran); ``sub``: the wakeup subtree below ``key``, which
    guides the steps that follow.
    """

    __slots__ = ("sleep", "wakeup", "key", "fp", "sub")

    def __init__(self, sleep, wakeup, key, sub):
        self.sleep = sleep
        self.wakeup = wakeup
        self.key = key
        self.fp = None
        self.sub = sub


class DPOR(BaseScheduler, RaceReversal):
    name = "dpor"

    # Sections as steps wherever the program allows, mixed CPUs included (checker.mixed).
    reductions = SECTIONS + (MixedSections,)
    # Its reasoning about who may run on a CPU knows sections, not interrupts.
    interrupts = False
    # A weak model's choices are taken as choose() values are: the state decides
    # the options, each other one a branch of the node (checked against dfs,
    # tests/test_memory_model_oracle.py and test_engine_differential.py).
    memory_models = ("sc", "ra")
    # With several CPUs and a shared one, a sleeping step that is no ownership
    # change stays asleep across its CPU's section starts and ends that touch
    # nothing of it (checker/schedulers/contiguous_sleep.py).
    contiguous_sleep = True
    # smp_mb's global view reads every location: not in any footprint.
    global_fences = False

    def __init__(self, prefix=(), trace_keys=False, guards=True):
        """``prefix``: explore only the executions that start with the steps
        ``prefix`` (event keys); a split search (``checker.parallel``) gives
        each worker one.  Races that would branch inside the prefix are left to
        the splitter.  ``trace_keys``: collect a key of each analysed
        execution's Mazurkiewicz trace in ``self.keys`` (the split search counts
        the traces its subtrees share once)."""
        self.nodes = []             # one Node per position of the current execution
        self.depth = 0              # the position pick() is at
        self.guide = None           # the wakeup subtree guiding the next pick
        # The first position whose event is new in this execution (the races
        # of the positions before it were reversed in earlier executions).
        self.new_from = 0
        self.done = False
        self.prefix = [tuple(k) for k in prefix]
        self.fixed = len(self.prefix)   # positions below it are the prefix: never branched
        # Races whose earlier step lies below ``base`` are the splitter's (other
        # subtrees); a stolen subtree's search (steal.py) has its root above it.
        self.base = self.fixed
        self.keys = set() if trace_keys else None
        # guards: whether guarded sections may be one step (checker.reductions).
        self.reductions = SECTIONS + (MixedSections,) if guards else (MacroSteps, MixedSections)
        self._stranded = {}
        # The last analysed execution's relation, cut back to the next one's prefix.
        self._prefix_relation = None

    def reset(self) -> None:
        """Forget the search so far (``explore`` starts again). The reductions
        stay: a declaration found broken is withdrawn by the exploration's
        ``Declarations`` (``wrap`` leaves guarded sections out), and a weakened
        lock discipline (checker/mixed.py) is not one, so a scheduler passed as
        an object searches again as ``scheduler="dpor"`` would."""
        self.__init__(self.prefix, trace_keys=self.keys is not None,
                      guards=GuardedSections in self.reductions)

    # -- the scheduler protocol ---------------------------------------------
    def new_execution(self) -> bool:
        if self.done:
            return False
        self.depth = 0
        return True

    def pick(self, world, enabled):
        d = self.depth
        self.depth = d + 1
        nodes = self.nodes
        if d < self.fixed:
            key = self.prefix[d]
            if key[0] not in enabled or not self._fits(world, key):
                raise InternalError(f"dpor: the prefix's step {d} {key} cannot be taken; "
                                    "is build() deterministic?")
            if d == len(nodes):
                nodes.append(Node({}, [], key, None))
            return key
        if d < len(nodes):
            node = nodes[d]
            t = node.key[0]
            if d == len(nodes) - 1:
                # The node the search backtracked to.  A branch whose step cannot
                # be taken here (a wakeup sequence inserted for a blocking race
                # that the state does not allow after all) is dropped.
                while t not in enabled or not self._refit(world, node) or node.key in node.sleep:
                    if not node.wakeup:
                        return None
                    child = node.wakeup.pop(0)
                    self._dropped_before(child)
                    node.key = child.key
                    node.sub = child.children
                    node.fp = None
                    t = node.key[0]
                self.guide = node.sub
                self._other_values(world, node)
            elif t not in enabled:
                raise InternalError(
                    f"dpor: replaying step {d}, task {world.tasks[t].name} is not enabled; "
                    "is build() deterministic?")
            return node.key
        if d == 0:
            sleep = {}
        else:
            parent = nodes[d - 1]
            if parent.fp is None:
                parent.fp = event_fp(world.sched_events[d - 1])
            pfp = parent.fp
            if self.contiguous_sleep and self.contiguous_sections and world.mixed_layout:
                sleep = {k: f for k, f in parent.sleep.items() if not sleep_dependent(f, pfp)}
            else:
                sleep = {k: f for k, f in parent.sleep.items() if not dependent(f, pfp)}
            if pfp[2] < 0 and sleep:
                # An invisible step is independent of a section start of its CPU
                # unless the section never ends: then the start strands it, so
                # the two orders differ (the other task never gets to run).  A
                # section start asleep here is woken by any step of its CPU.
                c = world.tasks[pfp[0]].cpu
                if world.shared_cpu[c]:
                    sleep = {k: f for k, f in sleep.items() if not (f[3] and f[2] == c)}
        guide = self.guide
        self.guide = None
        node = None
        tasks = world.tasks
        if guide:
            for idx, child in enumerate(guide):
                ct = child.key[0]
                key = self._fitted(world, child.key) if ct in enabled else None
                if key is not None and key not in sleep:
                    node = Node(sleep, guide[idx + 1:], key, child.children)
                    break
        if node is None:
            weak = world.mm is not None
            for u in self._unguided(world, enabled):
                a = tasks[u].pending
                for v in (world.choices(u) if weak else a.arg if a.op == A.CHOOSE else (None,)):
                    if (u, v) not in sleep:
                        node = Node(sleep, [], (u, v), None)
                        break
                if node is not None:
                    break
            if node is None:
                return None
        self._other_values(world, node)
        self.guide = node.sub
        nodes.append(node)
        return node.key

    @staticmethod
    def _unguided(world, enabled):
        """The order in which a node no wakeup sequence guides tries the enabled
        steps.  Optimal DPOR may take any that is not asleep (Abdulla et al.,
        POPL 2014, Algorithm 2), so this order changes the cost, never what is
        found (``bench.fuzz_dpor --order``).  A pending choose() first: it
        touches nothing, so where it runs is free, and taken at once its other
        values are branches of a node whose sleep set holds no step explored
        after its task's previous one (docs/design.md, "Choice values are
        events")."""
        tasks = world.tasks
        return sorted(enabled, key=lambda u: tasks[u].pending.op != A.CHOOSE)

    @staticmethod
    def _fits(world, key) -> bool:
        """Whether ``key`` names a step of the task's pending action."""
        a = world.tasks[key[0]].pending
        if a.op == A.CHOOSE:
            return key[1] in a.arg
        if world.mm is not None:
            return key[1] in world.choices(key[0])
        return key[1] is None

    @staticmethod
    def _fitted(world, key):
        """``key`` as a step the task can take now, or None.  A weak model's value that
        this state does not offer (a store that a reordering removed or moved) is
        the task's step with its first value: every value of it becomes a branch
        of the node (:meth:`_other_values`), so the step is what the sequence needs."""
        if DPOR._fits(world, key):
            return key
        if world.mm is not None and world.tasks[key[0]].pending.op != A.CHOOSE:
            return (key[0], world.choices(key[0])[0])
        return None

    def _refit(self, world, node) -> bool:
        key = self._fitted(world, node.key)
        if key is None:
            return False
        node.key = key
        return True

    @staticmethod
    def _other_values(world, node) -> None:
        """Make every other value of a choice taken at ``node`` a branch of it."""
        t, v = node.key
        a = world.tasks[t].pending
        if a.op == A.CHOOSE:
            values = a.arg
        elif world.mm is not None:
            values = world.choices(t)
            if len(values) < 2:
                return
        else:
            return
        have = {c.key for c in node.wakeup}
        c = world.tasks[t].cpu
        # Another value's footprint is unknown until it runs (the task's code
        # after the choice may touch shared memory): None, dependent on all.
        fp = (t, None, c if world.shared_cpu[c] else -1, False)
        for w in values:
            k = (t, w)
            if w != v and k not in node.sleep and k not in have:
                node.wakeup.append(WNode(k, fp))

    def end_execution(self, world, status) -> None:
        nodes = self.nodes
        evs = world.sched_events
        del nodes[len(evs):]
        for i in range(self.new_from, len(evs)):
            nodes[i].fp = event_fp(evs[i])
        if status in ("complete", "deadlock"):
            clocks = self._reverse_races(world)
            if self.keys is not None:
                self.keys.add((trace_key(evs, clocks), world.deadlocked))
        elif status == "redundant":
            # Sleep-set blocked: the run is a trace explored before, but its prefix's
            # races are this subtree's to reverse, as source-DPOR reverses every
            # explored prefix's (docs/design.md, "Blocked runs' races").
            self._reverse_races(world)
        while len(nodes) > self.fixed:
            node = nodes[-1]
            node.sleep[node.key] = node.fp
            child = self._next_child(len(nodes) - 1, node)
            if child is not None:
                node.key = child.key
                node.sub = child.children
                node.fp = None
                self.new_from = len(nodes) - 1
                return
            if self.done:
                return
            nodes.pop()
        self.done = True

    def _dropped_before(self, child) -> None:
        """``child`` is explored next because the branch before it could not be taken."""

    def _next_child(self, d, node):
        """The branch of node ``d`` to explore next (None: none left).  A work-stealing
        search (steal.py) joins here the branches it gave away."""
        return node.wakeup.pop(0) if node.wakeup else None
