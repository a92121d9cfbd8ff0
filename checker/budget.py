"""Budgets that hold inside an execution, and interrupts that keep what was found.

``explore`` checks its budgets between executions; a model that never ends an
execution (a task looping forever, yielding valid actions or not yielding at
all) would escape them.  This module holds what the exploration loop needs to
stop *inside* an execution, in a few well-delimited calls:

* :class:`Limits`: the per-execution step cap, the deadline and a stop flag,
  checked every :data:`CHECK_EVERY` steps (cheap on the hot path);
* :class:`Watchdog`: for code that does not yield at all (a plain ``while
  True`` in a task), a ``SIGALRM`` shortly after the deadline raises
  :class:`Expired` inside it; only in the main thread and only when nobody
  else owns ``SIGALRM``;
* :class:`SearchInterrupted`: Ctrl-C or SIGTERM during a search, carrying the
  partial :class:`~checker.result.Result` (everything found so far), so the
  command line can still report and write it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from contextlib import contextmanager

from .errors import ModelError

# Longest execution explored before the model is declared runaway.  The
# zsmalloc scenarios take a few hundred steps at depth 2; a loop that yields
# forever reaches the cap in about a second.
DEFAULT_MAX_STEPS = 20_000
CHECK_EVERY = 1024
# How long code that never yields may overrun the deadline before SIGALRM.
WATCHDOG_GRACE = 1.0
# The longest interval the watchdog's timer is armed for. ``setitimer`` refuses
# an interval beyond what the platform's timer holds (OverflowError: 1e10 s on
# x86-64 Linux); a deadline further away than this (over three years, or an
# infinite time limit) is as good as none, and the watchdog is not armed for it.
WATCHDOG_MAX = 1e8
# Bounds of a program's size, whoever gives it (the command line, a trace's or a
# checkpoint's params, a Python caller): deeper than MAX_DEPTH no exhaustive
# search finishes and an execution outgrows the step cap; more CPUs than
# MAX_CPUS add nothing (the largest scenario has eight tasks) but per-CPU
# structures the size of the number (a trace's ``cpus`` of 10**9 took all memory).
MAX_DEPTH = 50
MAX_CPUS = 64


class Expired(BaseException):
    """The deadline passed inside an execution (not an Exception: a model's
    ``except Exception`` must not swallow it)."""

    def __init__(self, where: str = ""):
        super().__init__(where)
        self.where = where


class Interrupted(KeyboardInterrupt):
    """SIGTERM turned into an interrupt (SIGINT raises KeyboardInterrupt itself)."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class SearchInterrupted(KeyboardInterrupt):
    """A search stopped by Ctrl-C or SIGTERM: ``result`` is what it found so far
    (incomplete, ``reason`` says interrupted); ``signum`` is the signal."""

    def __init__(self, result, signum: int = signal.SIGINT):
        super().__init__("interrupted")
        self.result = result
        self.signum = signum


def signal_of(exc: BaseException) -> int:
    return getattr(exc, "signum", signal.SIGINT)


class StepCapExceeded(ModelError):
    """An execution ran more steps than the cap: a task that never ends."""


class Limits:
    """What an execution is checked against every CHECK_EVERY steps.

    ``deadline``: a ``time.perf_counter()`` value or None; ``stop``: an object
    with ``is_set()`` (a threading or multiprocessing Event) or None.
    """

    __slots__ = ("deadline", "max_steps", "stop")

    def __init__(self, max_steps=None, deadline=None, stop=None):
        self.max_steps = DEFAULT_MAX_STEPS if max_steps is None else max_steps
        self.deadline = deadline
        self.stop = stop

    def stopped(self) -> bool:
        if _pending[0] is not None:
            # An interrupt whose KeyboardInterrupt was lost: CPython drops an
            # exception raised in a gc callback (Hypothesis installs one), so the
            # handler's flag is checked here as well.
            raise Interrupted(_pending[0])
        return self.stop is not None and self.stop.is_set()

    def during(self, world, steps: int) -> None:
        """Called inside an execution after ``steps`` steps."""
        if steps >= self.max_steps:
            raise StepCapExceeded(runaway_message(world, self.max_steps))
        if self.deadline is not None and time.perf_counter() >= self.deadline:
            raise Expired(f"after {steps} steps of one execution")
        if self.stopped():
            raise Expired("stopped")


def runaway_message(world, cap: int) -> str:
    """``execution exceeded N steps in FUNCTION (task T, file:line)``: the busiest task's innermost frame."""
    tasks = [t for t in world.tasks if not t.finished] or list(world.tasks)
    t = max(tasks, key=lambda t: t.seq)
    where = innermost(t.gen)
    return (f"execution exceeded {cap} steps in {where} (task {t.name}, {t.seq} of them): a task that "
            f"never finishes? raise the cap with --max-steps if the model really is that long")


def innermost(gen) -> str:
    """The function a (possibly delegating) generator is suspended in, with file and line."""
    g = gen
    while getattr(g, "gi_yieldfrom", None) is not None and hasattr(g.gi_yieldfrom, "gi_code"):
        g = g.gi_yieldfrom
    code = getattr(g, "gi_code", None)
    if code is None:
        return "?"
    frame = getattr(g, "gi_frame", None)
    line = frame.f_lineno if frame is not None else code.co_firstlineno
    return f"{getattr(code, 'co_qualname', code.co_name)} ({os.path.basename(code.co_filename)}:{line})"


class Watchdog:
    """Raise :class:`Expired` in code that does not yield past ``deadline`` (perf_counter).

    Armed on creation, disarmed by :meth:`cancel`.  A no-op without a
    deadline, with one more than :data:`WATCHDOG_MAX` seconds away, outside the
    main thread, where ``setitimer`` is missing, or when ``SIGALRM`` already
    has a handler (it belongs to someone else).
    """

    def __init__(self, deadline):
        self.previous = None
        self.armed = False
        if deadline is None:
            return
        interval = max(0.01, deadline - time.perf_counter() + WATCHDOG_GRACE)
        if (not interval <= WATCHDOG_MAX or not hasattr(signal, "setitimer")
                or threading.current_thread() is not threading.main_thread()
                or signal.getsignal(signal.SIGALRM) not in (signal.SIG_DFL, None)):
            return
        self.previous = signal.signal(signal.SIGALRM, self._on_alarm)
        self.armed = True
        try:
            signal.setitimer(signal.ITIMER_REAL, interval)
        except (OverflowError, ValueError, OSError):
            # a timer this platform cannot hold: no watchdog, and no handler left behind
            self.armed = False
            signal.signal(signal.SIGALRM, self.previous)

    def _on_alarm(self, signum, frame):
        if not self.armed:
            return
        where = "?"
        while frame is not None and frame.f_globals.get("__name__") == _RECORDING:
            frame = frame.f_back        # a changed line's recording call: its caller ran on
        if frame is not None:
            where = code_location(frame.f_code, frame.f_lineno)
        raise Expired(f"in {where}, which ran on without yielding")

    def cancel(self) -> None:
        if not self.armed:
            return
        self.armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.previous)


_RECORDING = "checker.coverage"


def code_location(code, line) -> str:
    """``FUNCTION (file:line)``, as a message names where model code was."""
    return f"{getattr(code, 'co_qualname', code.co_name)} ({os.path.basename(code.co_filename)}:{line})"

# The signal of an interrupt not yet acted on (see Limits.stopped).
_pending = [None]


def interrupt_pending():
    """The signal of an interrupt not yet acted on, or None."""
    return _pending[0]


def clear_interrupt() -> None:
    """The interrupt has been acted on (its partial report is being written)."""
    _pending[0] = None


# The signals that stop a check as Ctrl-C does (SIGINT raises KeyboardInterrupt itself):
# SIGTERM (kill, a CI timeout) and SIGHUP (the terminal closed; not when it was ignored
# at start, as nohup does). Each is exit 128 + its number, and the report says interrupted.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _install(on_signal) -> dict:
    """``on_signal`` for each of STOP_SIGNALS not ignored; the handlers it replaced."""
    previous = {}
    for sig in STOP_SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:
            previous[sig] = signal.signal(sig, on_signal)
    return previous


def _restore(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


@contextmanager
def stop_signals_interrupt():
    """While active (a whole ``zsmc`` command, from before its arguments are read),
    SIGTERM and SIGHUP raise :class:`Interrupted` as Ctrl-C raises KeyboardInterrupt:
    before :func:`sigterm_interrupts` took over they killed zsmc silently (no line,
    no JSON document) where Ctrl-C was one line and exit 130."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum, frame):
        raise Interrupted(signum)

    previous = _install(on_signal)
    try:
        yield
    finally:
        _restore(previous)


@contextmanager
def sigterm_interrupts():
    """While active, SIGTERM and SIGHUP (STOP_SIGNALS) raise :class:`Interrupted` like
    Ctrl-C raises KeyboardInterrupt, and each signal is remembered until acted on, so
    that an interrupt raised where Python drops exceptions still stops the search."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum, frame):
        _pending[0] = signum
        raise Interrupted(signum)

    def on_unraisable(unraisable):
        # An interrupt raised inside a finaliser (a generator closed by the
        # garbage collector, a __del__) cannot propagate; Python would print it
        # with a traceback. It is remembered in _pending and acted on at the
        # next step, so there is nothing to print.
        if isinstance(unraisable.exc_value, Interrupted) or (
                isinstance(unraisable.exc_value, KeyboardInterrupt)
                and _pending[0] is not None):
            return
        previous_hook(unraisable)

    previous_hook = sys.unraisablehook
    sys.unraisablehook = on_unraisable
    previous = _install(on_signal)
    previous_int = signal.getsignal(signal.SIGINT)
    ours_int = previous_int is signal.default_int_handler
    if ours_int:
        signal.signal(signal.SIGINT, on_signal)
    try:
        yield
    finally:
        sys.unraisablehook = previous_hook
        _restore(previous)
        if ours_int:
            signal.signal(signal.SIGINT, previous_int)
        _pending[0] = None
