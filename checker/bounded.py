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

With ``dpor`` the loop is at most two searches.  First plain ``dpor``: if it
is complete and clean, no bound has a violation (every execution was
covered), which is the answer of the loop at the bound that cuts nothing.
Otherwise one search of trace states expanded cheapest first
(checker/schedulers/bounded_dpor.py) finds the violations with the fewest
preemptions, without exploring the states of bound k again at bound k + 1.
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
    if scheduler == "dpor":
        return _cheapest_first(build, max_bound, max_executions, time_limit, on_bound, kwargs)
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


def _cheapest_first(build, max_bound, max_executions, time_limit, on_bound, kwargs) -> Result:
    """``auto`` with dpor: plain dpor, then (on a violation or a budget) trace states, cheapest first."""
    from .schedulers.bounded_dpor import BoundedDPOR
    start = time.perf_counter()
    plain = explore(build, scheduler="dpor", max_executions=max_executions, time_limit=time_limit, **kwargs)
    if plain.complete and not plain.violations:
        plain.scheduler = "dpor, preemption bound auto (dpor was complete: no bound cuts anything)"
        plain.preemption_bound = plain.max_preemptions
        plain.bound_covered = plain.max_preemptions
        if on_bound is not None:
            on_bound(plain.preemption_bound, plain)
        return plain
    left_time = None if time_limit is None else time_limit - (time.perf_counter() - start)
    left_exec = None if max_executions is None else max_executions - plain.executions
    if (left_time is not None and left_time <= 0) or (left_exec is not None and left_exec <= 0):
        plain.scheduler = "dpor, preemption bound auto"
        plain.complete = False
        if plain.violations:        # found, never dropped: only its fewest preemptions are unproved
            plain.reason = "violation found; the budget ran out before its fewest preemptions were established"
        return plain
    sched = BoundedDPOR(max_bound, auto=True)
    r = explore(build, scheduler=sched, max_executions=left_exec, time_limit=left_time, **kwargs)
    r.executions += plain.executions
    r.redundant += plain.redundant
    r.steps += plain.steps
    r.scheduler = "dpor, preemption bound auto (trace states, cheapest first)"
    r.preemption_bound = sched.found_at if sched.found_at is not None else sched.max_cost
    if r.violations:
        k = r.preemption_bound
        r.bound_covered = k - 1 if k else None
        r.reason = (f"violation with {k} preemption(s); every execution with fewer was explored"
                    if k else "violation without preemption")
    elif r.complete and sched.cut:
        r.complete = False
        r.bound_covered = max_bound
        r.reason = f"every execution with at most {max_bound} preemption(s) explored; " \
                   f"--max-bound {max_bound} reached"
    elif r.complete:
        r.bound_cut = 0          # every state was reached: complete without qualification
        r.bound_covered = r.preemption_bound
    else:
        r.bound_covered = sched.cost - 1 if sched.cost else None     # costs below were finished
    if plain.violations and not r.violations:
        # Found by dpor, never dropped: its fewest preemptions are what is unproved.
        r.violations, r.violation_count = plain.violations, plain.violation_count
        r.complete = False
        covered = "" if r.bound_covered is None else \
            f"; every execution with at most {r.bound_covered} preemption(s) was explored"
        r.reason = f"violation found; {r.reason or 'the bounded search stopped'}{covered}"
    if on_bound is not None:
        on_bound(r.preemption_bound, r)
    return r


def explore_within_bound(build, bound: int, max_executions=None, time_limit=None, **kwargs) -> Result:
    """Is there a violation with at most ``bound`` preemptions?  (``zsmc check --preemption-bound K``.)

    Plain ``dpor`` first: complete and clean, it covered every execution, so
    the bound cut nothing; a violation whose own execution fits the bound is
    an answer.  Otherwise the bounded search (trace states, cheapest first)
    settles it, and a violation dpor found beyond the bound is noted.  The
    outcomes are not those of the bounded executions (``explore(...,
    preemption_bound=K)`` gives those): this answers the question the
    command line asks, fast when the model is clean.
    """
    from .schedulers.bounded_dpor import BoundedDPOR
    if not isinstance(bound, int) or isinstance(bound, bool) or bound < 0:
        raise UsageError(f"bound must be a non-negative integer, got {bound!r}")
    start = time.perf_counter()
    plain = explore(build, scheduler="dpor", max_executions=max_executions, time_limit=time_limit, **kwargs)
    plain.preemption_bound = bound
    fits = [v for v in plain.violations if sum(1 for s in v.steps if s.preemption) <= bound]
    if (plain.complete and not plain.violations) or fits or not plain.violations:
        plain.scheduler = "dpor (bounded: dpor first)"
        if fits:
            plain.violations = fits
        elif plain.complete:
            plain.bound_cut = 0          # every execution was explored: the bound cut nothing
            plain.bound_covered = bound
        return plain
    left_time = None if time_limit is None else time_limit - (time.perf_counter() - start)
    left_exec = None if max_executions is None else max_executions - plain.executions
    if (left_time is not None and left_time <= 0) or (left_exec is not None and left_exec <= 0):
        plain.complete = False
        plain.violations = []
        plain.note = "dpor found a violation with more preemptions than the bound; the budget ran out " \
                     "before the bounded search"
        return plain
    r = explore(build, scheduler=BoundedDPOR(bound), max_executions=left_exec, time_limit=left_time, **kwargs)
    r.preemption_bound = bound
    if r.complete:
        r.bound_covered = bound
    r.executions += plain.executions
    r.redundant += plain.redundant
    r.steps += plain.steps
    if not r.violations:
        r.note = (f"dpor found a violation needing more than {bound} preemption(s): "
                  f"[{plain.violations[0].property}] (run without --preemption-bound to see it)")
    return r


def _add(total: Result, r: Result, k: int) -> None:
    total.absorb(r)
    total.scheduler = f"{r.scheduler}, preemption bound auto"
    total.preemption_bound = k
    total.bound_cut = r.bound_cut
    total.seed = r.seed
