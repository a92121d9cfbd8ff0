"""One execution stepped from outside: the engine under a state machine's rules.

:func:`checker.explore` owns its loop: it builds the program, asks a scheduler
for every step and checks the properties.  A state machine (Hypothesis's
``RuleBasedStateMachine``, ``model.stateful``) needs the opposite: its rules
decide, one call at a time, which task moves next, and look at the state in
between.  :class:`Stepper` gives it that without a second engine: it runs
``explore()`` on a thread of its own with a scheduler whose ``pick`` waits
for the caller's decision.  Only one of the two threads runs at any time
(each hands over and waits), so the exploration is the ordinary one, step
for step: every property is checked at every step as in any search, the
violation carries the schedule that replays it (``checker.trace``), and the
execution ends the ordinary ways (violation, deadlock, complete).

The program must be fixed when the execution starts, like every program: a
state machine that starts operations later gives its tasks a ``choose`` that
the caller answers (``step(task, choice)``), so the choice is part of the
schedule and the replay needs nothing but the program and the schedule.

Use it as a context manager, or call :meth:`close`: an execution left open
keeps its thread waiting.
"""

from __future__ import annotations

import contextvars
import queue
import threading

from .errors import InternalError, UsageError, ZsmcError
from .explore import explore
from .schedulers.base import BaseScheduler

_ABANDON = object()


class _Bridge(BaseScheduler):
    """The scheduler explore() runs with: one execution, every pick from the caller."""

    name = "stepped"
    incomplete_reason = "stepped: one execution driven from outside"

    def __init__(self, to_engine, to_caller):
        self.to_engine = to_engine
        self.to_caller = to_caller
        self.started = False
        self.status = None
        self.policy = None

    def new_execution(self) -> bool:
        if self.started:
            return False
        self.started = True
        return True

    def pick(self, world, enabled):
        policy = self.policy
        if policy is not None:
            cmd = policy(world, enabled)
            if cmd is not None:
                return cmd
            self.policy = None
        self.to_caller.put(("pick", world, enabled))
        while True:
            cmd = self.to_engine.get()
            if cmd is _ABANDON:
                return False
            if not callable(cmd):
                return cmd
            # A policy: it picks the steps, here on the engine's thread, until it
            # returns None (saving two thread switches per step).
            step = cmd(world, enabled)
            if step is not None:
                self.policy = cmd
                return step
            self.to_caller.put(("pick", world, enabled))

    def end_execution(self, world, status) -> None:
        self.status = status


class Stepper:
    """One execution of ``build()``, each step chosen by the caller.

    ``properties`` are as for :func:`checker.explore`.  After construction,
    and after every :meth:`step`, either the execution waits for the next
    step (``world`` and ``enabled`` describe it) or it has ended (``ended``;
    ``status`` is ``"violation"``, ``"deadlock"``, ``"complete"`` or
    ``"abandoned"``, and ``result`` is explore()'s Result, whose
    ``violations`` carry the schedules that replay them).  ``max_steps``
    bounds the execution: the step that would exceed it raises UsageError.
    """

    def __init__(self, build, properties=None, max_steps: int = 100_000):
        if not callable(build):
            raise UsageError(f"Stepper needs a build function returning a Program, got {build!r}")
        self.max_steps = max_steps
        self.steps = 0
        self.world = None
        self.enabled = []
        self.result = None
        self.ended = False
        self._error = None
        self._outcome = None
        self._to_engine = queue.SimpleQueue()
        self._to_caller = queue.SimpleQueue()
        self._bridge = _Bridge(self._to_engine, self._to_caller)
        # A new thread starts in an empty context: run the engine in a copy of the
        # caller's, as if explore() had been called here.
        self._thread = threading.Thread(target=contextvars.copy_context().run,
                                        args=(self._run, build, properties),
                                        name="zsmc-stepper", daemon=True)
        self._thread.start()
        self._wait()

    # -- the engine's thread ----------------------------------------------------------
    def _run(self, build, properties) -> None:
        try:
            result = explore(build, scheduler=self._bridge, properties=properties,
                             stop_on_violation=True)
            self._outcome = ("end", result)
        except BaseException as exc:  # noqa: BLE001 -- handed to the caller's thread as is
            self._outcome = ("error", exc)
        # Kept in an attribute as well as sent: a KeyboardInterrupt landing in
        # the caller's _wait just after its get() returned loses the message,
        # and close() must still see that the engine has ended.
        self._to_caller.put(self._outcome)

    # -- the caller's thread ----------------------------------------------------------
    def _wait(self) -> None:
        msg = self._to_caller.get()
        if msg[0] == "pick":
            self.world, self.enabled = msg[1], list(msg[2])
            return
        self._finish(msg)

    def _finish(self, msg) -> None:
        kind = msg[0]
        self._thread.join()
        self.ended = True
        self.enabled = []
        if kind == "error":
            self._error = msg[1]
            raise msg[1]
        self.result = msg[1]

    @property
    def status(self) -> str | None:
        """How the execution ended (None while it runs)."""
        if not self.ended:
            return None
        if self._error is not None:
            return "error"
        status = self._bridge.status
        return "abandoned" if status in (None, "pruned") else status

    @property
    def violations(self) -> list:
        """The violations found (with their schedules); empty while the execution runs."""
        return list(self.result.violations) if self.result is not None else []

    def step(self, task: int, choice=None) -> None:
        """Perform task ``task``'s pending action (``choice``: the option of a ``choose``)."""
        if self.ended:
            raise UsageError("the execution has ended; no step can be taken")
        if task not in self.enabled:
            raise UsageError(f"task {task} is not enabled now (enabled: {self.enabled})")
        if self.steps >= self.max_steps:
            raise UsageError(f"the execution reached max_steps={self.max_steps}")
        if choice is None:
            pending = self.world.tasks[task].pending
            if pending.name == "choose":
                raise UsageError(f"task {task} is at a choose(): give one of {list(pending.arg)!r}")
        elif choice not in self.world.choices(task):
            raise UsageError(f"task {task}: {choice!r} is not one of {list(self.world.choices(task))!r}")
        self.steps += 1
        self._to_engine.put((task, choice))
        self._wait()

    def run(self, policy) -> None:
        """Take steps while ``policy(world, enabled)`` returns one: a ``(task, choice)``
        pair (``choice`` None unless the task is at a ``choose``); None stops.

        The policy runs on the engine's thread, between steps, with the caller
        waiting: it may read anything but must not call this Stepper.  It must
        only return enabled tasks and valid choices (unchecked: a wrong step is
        an internal error of the engine).
        """
        if self.ended:
            raise UsageError("the execution has ended; no step can be taken")
        budget = [self.max_steps - self.steps]

        def bounded(world, enabled):
            if budget[0] <= 0:
                return None
            step = policy(world, enabled)
            if step is not None:
                budget[0] -= 1
                self.steps += 1
            return step

        self._to_engine.put(bounded)
        self._wait()

    def close(self) -> None:
        """Abandon the execution if it still runs (its violations so far are kept)."""
        if self.ended:
            return
        if self._outcome is None:
            self._to_engine.put(_ABANDON)
        try:
            # An interrupted step may leave its "pick" unread, or have read and
            # lost the engine's last message: drain to the end, or take the end
            # the engine recorded.
            while not self.ended:
                if self._outcome is not None:
                    self._finish(self._outcome)
                else:
                    self._wait()
        except ZsmcError:
            raise
        except BaseException as exc:
            raise InternalError(f"the stepped execution failed while closing: {exc!r}") from exc

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
