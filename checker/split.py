"""Cutting the search tree into subtrees (checker/parallel.py explores them).

By default the tree is split on the values of the tasks' first choices
(:func:`split_choices`): disjoint subtrees, each trace explored once.  The
general cut, at a depth (``split_depth``), is described next; its subtrees
overlap.

The DPOR tree is cut at a small depth into independent subtrees (Simsa,
Bryant and Gibson, "Scalable Dynamic Partial Order Reduction", RV 2012, do it
across machines).  Above the cut the splitter branches on every enabled step,
pruning with sleep sets only prefixes that are reorderings of earlier ones
(``[b, a]`` after ``[a, b]`` for independent ``a``, ``b``: the same subtree).
Below it each subtree is an ordinary optimal DPOR search of the executions
that start with its prefix (``DPOR(prefix)``), complete on its own.

Why not the sleep sets of the serial search at each subtree's root, which
would make the subtrees disjoint?  Optimal DPOR's sleep sets are only sound
together with the wakeup sequences the serial search inserts at the root,
sequences that guide a subtree to the trace a race elsewhere asks for; a
subtree explored without them loses traces (``bench.programs`` ``readers(3)``
split at depth 1 lost one).  So subtrees overlap: a trace whose first steps
can be taken in several orders is explored in each subtree it starts.  Each
subtree reports a key of every trace it explored (its events and vector
clocks), and the union counts each trace once: ``executions`` is the number
of distinct traces, the serial search's count (tested), and the repeats are
counted in ``redundant``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from . import actions as A
from . import objects
from .dependence import dependent, event_fp
from .errors import ModelError, UsageError
from .reductions import wrap
from .schedulers.dpor import DPOR
from .world import World


@dataclass
class Job:
    """One subtree: the steps leading to it and the sleep set at its root.

    ``guards``: whether the subtree's search may use the guarded-sections
    reduction; a cut by depth names its prefix step by step, so its subtrees
    are searched step by step too (a macro step would eat the prefix's next
    step).  The first choices of tasks are single steps either way.
    """

    index: int
    prefix: list
    guards: bool = True
    # The subtrees of a split by first choices share no trace: their counts add
    # up, and no trace keys are needed (a cut by depth overlaps: keys dedup).
    disjoint: bool = False


def split(build, depth: int) -> list:
    """The subtrees below every ``depth``-step prefix (fewer where an execution ends).

    Branching above the cut is complete: every enabled step (every value of a
    choice) not asleep, in task order, with the sleep sets of a sleep-set
    search, so the subtrees cover every trace once.
    """
    if not isinstance(depth, int) or depth < 0:
        raise UsageError(f"split depth must be a non-negative integer, got {depth!r}")
    jobs = []

    def expand(prefix, sleep):
        world = _replay(build, prefix, guards=False)
        en = world.enabled()
        if len(prefix) >= depth or not en:
            jobs.append(Job(len(jobs), list(prefix), guards=False))
            return
        done = {}
        for t in en:
            a = world.tasks[t].pending
            for v in (a.arg if a.op == A.CHOOSE else (None,)):
                key = (t, v)
                if key in sleep:
                    continue
                ev = _replay(build, prefix + [key], guards=False).sched_events[-1]
                fp = event_fp(ev)
                below = {k: f for k, f in {**sleep, **done}.items() if not dependent(f, fp)}
                expand(prefix + [key], below)
                done[key] = fp

    expand([], {})
    return jobs


def split_choices(build) -> list:
    """One subtree per combination of the values of the tasks' first choices.

    Only tasks that start with a ``choose()`` and have a CPU of their own: such
    a choice is independent of every other step and always enabled, so every
    trace has it as a weak initial, and the traces with different values are
    different.  The subtrees are therefore disjoint and cover the tree: no
    trace is explored twice (unlike a cut by depth).
    """
    world = _replay(build, [])
    branching = [t for t in world.tasks if not t.finished and t.pending.op == A.CHOOSE
                 and not world.shared_cpu[t.cpu]]
    if not branching:
        return [Job(0, [], disjoint=True)]
    combos = itertools.product(*[[(t.index, v) for v in t.pending.arg] for t in branching])
    return [Job(i, list(c), disjoint=True) for i, c in enumerate(combos)]


def _replay(build, prefix, guards=True) -> World:
    from .explore import _build, _exit_message, raised_by_model
    world = None
    try:
        with objects.making():      # the World numbers the objects of its steps until it is left
            program = _build(build)
            # Above the cut, reads under a reference are ordinary reads, as guarded
            # sections are single steps there: a subtree that finds a reference broken
            # searches itself again without the reduction, never the branching above.
            world = World(program, build_uids=program.build_uids, references=False)
            step = wrap(world, DPOR.reductions, guards).step
            for t, v in prefix:
                step(t, v)
    except KeyboardInterrupt as exc:
        if raised_by_model(exc, world):
            raise ModelError(_exit_message(world, exc)) from None
        raise
    except Exception:  # kept apart from the BaseException below (GeneratorExit: the model's)
        raise
    except BaseException as exc:  # noqa: BLE001 - SystemExit and the like, from the model's code
        raise ModelError(_exit_message(world, exc)) from None
    return world
