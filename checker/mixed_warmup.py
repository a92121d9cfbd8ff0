"""Learning the mixed sections' lock discipline before the search (issue 18).

:class:`~checker.mixed.Protection` starts from the strongest claim (no
action of another CPU's task seen on any object) and is weakened by the
steps the search takes.  A weakening of an entry a group already relied on
makes the search stale, and ``explore`` starts it again: on the four-role
scenarios three restarts each threw away one to two thousand executions
(``bench/mixed_sources.py``; docs/benchmarks.md, "Where the mixed
scenarios' executions come from").

:func:`prelearn` first runs a few seeded random executions of the same
program and feeds every World step to the table.  Those steps are steps of
the program, so what they show is true: each only weakens a claim to one
that still holds of every execution (the table's entries only ever lose
locks, or gain a ``tried``).  The search that follows still checks every
step against the table and starts again on a weakening, exactly as before,
so soundness does not rest on the warm-up having seen everything: it only
makes the restarts rarer.  Its executions are not the search's, are not
counted in ``Result.executions``, and their time is in the budget.
"""

from __future__ import annotations

from .mixed import MixedSections
from .reductions import GuardBroken
from .schedulers.random import RandomScheduler

# Random executions run before a dpor search of a layout with a CPU shared among
# several CPUs.  0 turns the warm-up off.  The four-role scenarios' tables still
# changed at the 51st and 62nd random execution (of 128; none later), and every
# weakening it misses costs a restart, so it is not cut short on small programs.
WARM_UP = 100


class _Observer(RandomScheduler):
    """Random executions, stepped by :class:`MixedSections` so that the table sees
    every World step; what a group relied on is settled after each execution
    (nothing here is a search that could go stale)."""

    reductions = (MixedSections,)

    def __init__(self, table, executions, seed):
        super().__init__(executions=executions, seed=seed)
        self.name = "warm-up"
        self.table = table

    def end_execution(self, world, status) -> None:
        settle(self.table)


def settle(table) -> None:
    """Apply every weakening the table holds back and forget what was relied on,
    as a restart does, without counting one (no search relied on it yet)."""
    table.refresh()
    table.restarts -= 1


def applies(scheduler) -> bool:
    """Whether a search by ``scheduler`` (a name or an object) uses the mixed sections."""
    if isinstance(scheduler, str):
        return scheduler in ("dpor", "bounded-dpor")
    return MixedSections in tuple(getattr(scheduler, "reductions", ()) or ())


def prelearn(build, trusted, scheduler, executions=None, seed=0, time_limit=None) -> int:
    """Run ``executions`` (default :data:`WARM_UP`) random executions of ``build``
    feeding ``trusted.protection``; returns how many ran (0: not a mixed layout,
    or the search does not use the mixed sections)."""
    from .explore import _build, _explore, _PlainSearchNeeded     # explore calls this module
    from .memory_model import GlobalFence
    n = WARM_UP if executions is None else executions
    if not n or not callable(build) or not applies(scheduler):
        return 0        # (a bad build is the search's to report)
    program = _build(build)
    cpus = [t.cpu for t in program.specs]
    if program.has_interrupts or program.ncpus < 2 or not any(cpus.count(c) > 1 for c in set(cpus)):
        return 0
    table = trusted.protection
    obs = _Observer(table, n, seed)
    try:
        _explore(build, obs, [], False, None, None, time_limit, seed, None, 1e9, None, None,
                 trusted)
    except (GuardBroken, _PlainSearchNeeded, GlobalFence):
        pass        # what the search itself will meet and handle: its business
    settle(table)
    return obs.runs
