"""What an exploration returns: counts, outcomes, violations, completeness."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Step:
    """One step of a violating execution, for people and trace files."""

    index: int
    task: int
    task_name: str
    cpu: int
    action: str
    result: object
    choice: object = None
    preemption: bool = False
    pc: int = 0

    def to_json(self) -> dict:
        d = {"i": self.index, "task": self.task, "name": self.task_name, "cpu": self.cpu,
             "action": self.action}
        if self.result is not None:
            d["result"] = _jsonable(self.result)
        if self.choice is not None:
            d["choice"] = _jsonable(self.choice)
        if self.preemption:
            d["preemption"] = True
        if self.pc:
            d["pc"] = self.pc
        return d


def _jsonable(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return repr(v)


@dataclass(slots=True)
class Violation:
    """A property violated by one execution.

    ``step`` is the index of the violating step in ``steps`` (-1: before any
    step).  ``schedule`` is the source of truth for replay: the task index and
    choice value of every step of the execution up to the violation.
    ``involved`` lists other steps the property points at (the two
    acquisitions of an inverted lock pair, the free and the use, ...).
    """

    property: str
    message: str
    step: int
    task: str | None
    schedule: list = field(default_factory=list)
    steps: list = field(default_factory=list)
    involved: tuple = ()
    execution: int = 0
    tasks: list = field(default_factory=list)
    # Schedules of earlier executions the violation needs, in order (a
    # lock-order cycle whose other edges were seen in other runs).
    runs: list = field(default_factory=list)
    # Why no trace file can show this violation (empty: one can).
    no_trace: str = ""
    # Facts a machine reader wants apart from the message (JSON output), by property:
    # lock-order's cycle across scenarios lists each edge and its witness.
    details: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"[{self.property}] {self.message} (step {self.step})"

    def render(self) -> str:
        """The violation and its trace, one line per step, for a terminal."""
        lines = [f"violation of {self.property}: {self.message}"]
        for s in self.steps:
            mark = ">>" if s.index == self.step else ("* " if s.index in self.involved else "  ")
            pre = " (preempts)" if s.preemption else ""
            res = "" if s.result is None else f" -> {s.result!r}"
            lines.append(f"{mark}{s.index:4d}  cpu{s.cpu} {s.task_name:<14} {s.action}{res}{pre}")
        return "\n".join(lines)


@dataclass(slots=True)
class Result:
    """The outcome of :func:`checker.explore`.

    ``complete`` is True only when the whole space (within the preemption
    bound, if one was given) was explored; ``reason`` says why not otherwise.
    """

    scheduler: str
    executions: int = 0
    redundant: int = 0
    deadlocks: int = 0
    pruned: int = 0
    steps: int = 0
    outcomes: set = field(default_factory=set)
    violations: list = field(default_factory=list)
    violation_count: int = 0
    complete: bool = False
    reason: str = ""
    elapsed: float = 0.0
    preemption_bound: int | None = None
    bound_cut: int = 0          # branches the preemption bound removed (0: the bound cut nothing)
    # Why the search ran without a reduction it would have used (a broken guard).
    note: str = ""
    bound_covered: int | None = None   # the largest bound explored completely (--preemption-bound auto)
    max_preemptions: int = 0
    seed: int | None = None
    # What ran (checker.coverage): ``fn:NAME`` / ``pair:F+G`` -> executions it ran in.
    coverage: dict = field(default_factory=dict)
    # Executions with a data race (checker.races) found while its property was
    # not selected, and the first one's message: the search is then incomplete.
    races: int = 0
    race: str = ""
    # What the monitors keep across executions (``Monitor.export_state``), one
    # ``{property: state}`` per search that ran, in order (the subtrees of a split
    # search, the bounds of an iterative one): what a check merges across its
    # scenarios (lock-order's one lockdep graph per kernel, properties/lockdep_global.py).
    states: list = field(default_factory=list)

    def absorb(self, other: Result) -> None:
        """Add the counts, outcomes and violations of another exploration of the
        same program (a bound of an iterative search, a subtree of a split one,
        one example of a sampled one).  Completeness and its reason are the caller's
        to combine (each knows what makes the whole complete: every subtree, the bound
        that cut nothing; a sampled search never is)."""
        self.executions += other.executions
        self.redundant += other.redundant
        self.deadlocks += other.deadlocks
        self.pruned += other.pruned
        self.steps += other.steps
        self.outcomes |= other.outcomes
        self.violations.extend(other.violations)
        self.violation_count += other.violation_count
        self.max_preemptions = max(self.max_preemptions, other.max_preemptions)
        self.note = self.note or other.note
        self.races += other.races
        self.race = self.race or other.race
        self.states.extend(other.states)
        cov = self.coverage
        for k, n in other.coverage.items():
            cov[k] = cov.get(k, 0) + n

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def rate(self) -> float:
        return self.executions / self.elapsed if self.elapsed > 0 else 0.0

    def summary(self) -> str:
        state = "complete" if self.complete else f"incomplete ({self.reason})"
        v = f", {len(self.violations)} violation(s)" if self.violations else ""
        return (f"{self.scheduler}: {self.executions} executions, {self.redundant} redundant, "
                f"{self.elapsed:.2f}s, {state}{v}")
