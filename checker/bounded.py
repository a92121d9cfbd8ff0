"""Iterative preemption bounding: ``--preemption-bound auto``.

CHESS's iterative context bounding (Musuvathi and Qadeer, PLDI 2007): explore
every execution with at most 0 preemptions, then 1, 2, ... .  Most
concurrency bugs need very few preemptions, so the first bound that shows one
gives a counterexample with the fewest preemptions any counterexample has:
the bound before it was explored completely and was clean.

The loop stops at the first violation, when a budget runs out, or when a
bound cut no branch at all (then that search covered every execution and the
result is complete without qualification).  ``Result.bound_covered`` says
which bound was explored completely; ``Result.preemption_bound`` is the last
bound tried.
"""

from __future__ import annotations

import time

from .errors import UsageError
from .explore import explore
from .result import Result


def explore_auto_bound(build, scheduler="dpor", max_bound=None, max_executions=None,
                       time_limit=None, on_bound=None, **kwargs) -> Result:
    """Explore with preemption bounds 0, 1, 2, ... (at most ``max_bound``).

    ``max_executions`` and ``time_limit`` budget the whole loop.  ``on_bound(k,
    result)`` is called after each bound.  Other arguments go to
    :func:`~checker.explore`.
    """
    if max_bound is not None and (not isinstance(max_bound, int) or max_bound < 0):
        raise UsageError(f"max_bound must be a non-negative integer or None, got {max_bound!r}")
    total = Result(scheduler="", preemption_bound=0)
    start = time.perf_counter()
    deadline = None if time_limit is None else start + time_limit
    k = 0
    while True:
        left_time = None if deadline is None else deadline - time.perf_counter()
        left_exec = None if max_executions is None else max_executions - total.executions
        if (left_time is not None and left_time <= 0) or (left_exec is not None and left_exec <= 0):
            what = "time limit" if left_time is not None and left_time <= 0 else "execution budget"
            total.reason = f"{what} reached before preemption bound {k} was explored"
            break
        r = explore(build, scheduler=scheduler, preemption_bound=k, max_executions=left_exec,
                    time_limit=left_time, **kwargs)
        _add(total, r, k)
        if on_bound is not None:
            on_bound(k, r)
        if r.violations or not r.complete:
            total.reason = r.reason
            if r.violations:
                total.reason = (f"violation with {k} preemption(s); every execution with fewer "
                                f"was explored" if k else "violation without preemption")
            break
        total.bound_covered = k
        if r.bound_cut == 0:
            total.complete = True      # the bound cut nothing: this was every execution
            total.reason = ""
            break
        if max_bound is not None and k >= max_bound:
            total.reason = f"every execution with at most {k} preemption(s) explored; " \
                           f"--max-bound {max_bound} reached"
            break
        k += 1
    total.elapsed = time.perf_counter() - start
    return total


def _add(total: Result, r: Result, k: int) -> None:
    total.absorb(r)
    total.scheduler = f"{r.scheduler}, preemption bound auto"
    total.preemption_bound = k
    total.bound_cut = r.bound_cut
    total.seed = r.seed
