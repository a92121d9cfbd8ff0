"""``replay``: follow a recorded schedule exactly, for one execution.

A schedule is the source of truth of a trace (ARCHITECTURE.md section 6): the
task index and the choice value of every step.  :class:`Replay` feeds it to the
exploration loop one step at a time and checks, before each step, that the
program still behaves as recorded; when it does not, the model changed under
the trace and the replay stops with :class:`ScheduleDivergence` (a
:class:`~checker.errors.UsageError`), never with a silently different run.

What is checked at step ``i``:

* the recorded task exists and is enabled (a task waiting for a lock, or on a
  CPU owned by an atomic task, is not);
* when the trace recorded what each step did (``expected``), the task's
  pending action has the same operation and acts on an object of the same
  name (object names only: values may print differently on another machine);
* for a ``choose``, the recorded value is one of the options (compared in
  their JSON form, since that is how a trace stores them).

When the schedule is exhausted the execution is abandoned as *pruned*: a replay
runs exactly the recorded steps, so a violation recorded at the last step is
reproduced or not, and nothing after it is invented.

A violation may need earlier executions: a lock-order cycle whose edges were
seen in several runs.  ``before`` lists their schedules; they are replayed
first, in order, in the same exploration (so the monitors keep what they saw),
each checked like the main one.
"""

from __future__ import annotations

from .. import actions as A
from ..errors import UsageError
from .base import BaseScheduler


class ScheduleDivergence(UsageError):
    """The program no longer follows the recorded schedule (the model changed)."""


def jsonable(v):
    """The JSON form a trace stores for a value (choices, results)."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    return repr(v)


class Replay(BaseScheduler):
    """A scheduler that runs one execution along ``schedule``.

    ``schedule``: a sequence of ``(task index, choice)`` pairs, choices in
    Python or JSON form.  ``expected``: optional, one ``(op name, object name or
    None)`` per step, what the recorded step did.  ``task_names``: optional, the
    names of the recorded program's tasks, checked against the program's.

    ``before``: schedules of earlier runs to replay first (``expected_before``:
    their expected actions, each list or None).

    After the run, ``world`` is the World of the execution (for traces and the
    minimiser) and ``status`` how it ended; ``worlds`` and ``all_preempts``
    hold every run's, the main one last, and ``run`` the index of the run
    being (or last) replayed.
    """

    name = "replay"
    memory_models = ("sc", "ra")

    def __init__(self, schedule, expected=None, task_names=None, before=(), expected_before=None):
        runs = [[(int(t), c) for t, c in b] for b in before]
        runs.append([(int(t), c) for t, c in schedule])
        exp = list(expected_before) if expected_before is not None else [None] * (len(runs) - 1)
        exp.append(expected)
        for sched, e in zip(runs, exp):
            if e is not None and len(e) != len(sched):
                raise UsageError(f"replay: {len(e)} expected actions for a schedule of "
                                 f"{len(sched)} steps")
        self.runs = runs
        self.run_expected = exp
        self.run = -1
        self.schedule = runs[-1]
        self.expected = expected
        self.task_names = list(task_names) if task_names is not None else None
        self.pos = 0
        self.world = None
        self.status = None
        self.worlds = []
        # preempts[i]: step i switched its CPU away from a task that could have
        # continued, judged before the step (World.would_preempt, the rule the
        # preemption bound applies).
        self.preempts = []
        self.all_preempts = []

    @property
    def started(self) -> bool:
        return self.run >= 0

    def new_execution(self) -> bool:
        if self.run + 1 >= len(self.runs):
            return False
        self.run += 1
        self.schedule = self.runs[self.run]
        self.expected = self.run_expected[self.run]
        self.pos = 0
        self.preempts = []
        self.all_preempts.append(self.preempts)
        return True

    def pick(self, world, enabled):
        i = self.pos
        if i == 0:
            self.world = world
            self.worlds.append(world)
            self._check_tasks(world)
        if i >= len(self.schedule):
            return False
        self.pos = i + 1
        task, choice = self.schedule[i]
        tasks = world.tasks
        if not 0 <= task < len(tasks):
            raise ScheduleDivergence(
                f"schedule diverges at step {i}{self._of_run()}: it names task {task}, the program has {len(tasks)} tasks")
        t = tasks[task]
        if task not in enabled:
            if t.finished:
                why = "it has finished"
            else:
                why = f"its next action {t.pending.describe()} cannot run now"
            raise ScheduleDivergence(f"schedule diverges at step {i}{self._of_run()}: task {t.name} is not enabled ({why})")
        a = t.pending
        if self.expected is not None:
            op, obj = self.expected[i]
            have = getattr(a.obj, "name", None)
            if op != a.name or (obj is not None and obj != have):
                want = f"{op}({obj})" if obj is not None else f"{op}()"
                raise ScheduleDivergence(
                    f"schedule diverges at step {i}{self._of_run()}: task {t.name} does {a.describe()}, "
                    f"the trace recorded {want}")
        self.preempts.append(world.would_preempt(task))
        if a.op == A.CHOOSE:
            for opt in a.arg:
                if opt == choice or jsonable(opt) == choice:
                    return (task, opt)
            raise ScheduleDivergence(
                f"schedule diverges at step {i}{self._of_run()}: task {t.name} chooses among {jsonable(list(a.arg))}, "
                f"the trace recorded {choice!r}")
        if choice is not None:
            if world.mm is not None and choice in world.choices(task):
                return (task, choice)       # a weak model's store read or place in mo
            raise ScheduleDivergence(
                f"schedule diverges at step {i}{self._of_run()}: task {t.name} does {a.describe()}, "
                f"the trace recorded a choice of {choice!r}")
        return (task, None)

    def _of_run(self) -> str:
        if len(self.runs) == 1:
            return ""
        return f" of run {self.run + 1} of {len(self.runs)}"

    def _check_tasks(self, world) -> None:
        if self.task_names is None:
            return
        have = [t.name for t in world.tasks]
        if have != self.task_names:
            raise ScheduleDivergence(
                f"schedule diverges at step 0: the program's tasks are {have}, "
                f"the trace's are {self.task_names}")

    def end_execution(self, world, status) -> None:
        self.world = world
        self.status = status
