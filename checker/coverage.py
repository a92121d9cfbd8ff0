"""Which task code ran: coverage of named functions, and of operations running together.

A verdict is only as good as the code it exercised: a patch whose changed
function never ran in any explored execution passed vacuously.  A model marks
its functions with :func:`traced` (zsmalloc's kernel functions, named as in
the kernel); the engine then records, per execution,

* ``fn:NAME`` for every marked function that started running;
* ``pair:F+G`` for two *operations* (marked functions with a family, such as
  ``zs_malloc`` for "malloc") that ran at the same time in two tasks: one
  started while the other had not returned;
* ``same:F+G`` for two such operations that, while both ran, worked on one
  object of the model (:func:`op_object`: zsmalloc names the zspage): a pair
  that only ever meets on different objects exercises none of the code where
  the two touch the same state (red team round 7: no default scenario had a
  zs_malloc reuse a zspage whose page migration was moving);

and ``explore`` sums them over the executions in ``Result.coverage``.

A marked function also checks its callers: a generator function called
without ``yield from`` makes a generator that never runs, a silent no-op
(asyncio warns about a coroutine never awaited for the same reason).  A
marked generator still unstarted when the step that made it ends is a
:class:`~checker.errors.ModelError` naming the call site.
"""

from __future__ import annotations

import functools
import inspect
import sys

from .memory import _tls


def covered(name: str) -> None:
    """Record that ``name`` ran in the current execution; outside task code (a
    program's build), in the execution about to start (:func:`take_built`)."""
    rec = _tls.rec
    if rec is not None:
        rec.coverage.add(name)
    else:
        _BUILT.add(name)


# What ran while a program was being built: the model's set-up code (a pool's
# zspages made by new_zspage, their locks by zspage_lock_init) runs before any
# task, and a patch may change it too.
_BUILT: set = set()


def op_object(key) -> None:
    """The running task's current operation works on ``key`` (a hashable name the model
    chooses, such as a zspage's): recorded as ``same:F+G`` with every operation of
    another task that worked on ``key`` and has not returned.  No step, no footprint:
    the search is the one it was."""
    rec = _tls.rec
    if rec is not None:
        rec.op_object(rec.task, key)


def take_built() -> set:
    """What ran outside task code since the last call (``explore`` calls it
    before a build, to drop what ran elsewhere, and after, for the execution)."""
    out = set(_BUILT)
    _BUILT.clear()
    return out


def traced(fn, name: str | None = None, family: str | None = None):
    """``fn`` (a generator function) marked for coverage, as ``name``.

    ``family``: the operation it is (calls of two families overlapping in two
    tasks are recorded as a pair).  The result is a plain function that
    returns a generator, so the engine can see a call whose generator is
    never run.
    """
    if not inspect.isgeneratorfunction(fn):
        raise TypeError(f"traced() needs a generator function, got {fn!r}")
    name = name or fn.__name__
    key = "fn:" + name

    def body(args, kwargs):
        rec = _tls.rec
        if rec is None:
            return (yield from fn(*args, **kwargs))
        rec.coverage.add(key)
        if family is None:
            return (yield from fn(*args, **kwargs))
        task = rec.task
        rec.enter_op(task, family)
        try:
            return (yield from fn(*args, **kwargs))
        finally:
            # Also when an unfinished execution's generator is collected later:
            # the recorder and task are the ones it entered with.
            rec.leave_op(task, family)

    @functools.wraps(fn)
    def kernel_function(*args, **kwargs):
        rec = _tls.rec
        if rec is None:
            return body(args, kwargs)
        if family is None:
            # Made in task code, so started in this step (the recorder says so
            # at its end, below) and under this recorder: what ``body`` would
            # record at its start is recorded now, and the task runs ``fn``'s
            # generator itself, one frame less to resume at every step below it.
            rec.coverage.add(key)
            gen = fn(*args, **kwargs)
        else:
            gen = body(args, kwargs)
        f = sys._getframe(1)
        rec.made_generator(gen, name, f.f_code, f.f_lineno)
        return gen

    kernel_function.__zsmc_traced__ = name
    kernel_function.__wrapped__ = fn
    return kernel_function


def unstarted(gen) -> bool:
    """Whether generator ``gen`` was made but never started."""
    return not gen.gi_running and not gen.gi_suspended and gen.gi_frame is not None
