"""A naive Mazurkiewicz trace counter: every interleaving, deduplicated by its trace.

The independent oracle for *optimality* (dpor-benchmarks.md section 1, "naive
✓"): ``dfs`` enumerates every maximal execution; two executions are the same
trace iff they have the same events and order every dependent pair of events
the same way.  An optimal DPOR explores exactly :func:`count_traces` executions.

Dependence is dpor's (:func:`checker.dependence.dependent`, ``invisible=False``:
this counts the traces an optimal ``dpor`` explores): two steps of one task;
two steps on one object that conflict (every lock operation writes its
lock); and, on a CPU shared by several tasks, a step that changes its task's
ownership of the CPU (``Event.oc``) against every visible step of another
task of that CPU.  An event is named by its task and its position in that task
(``(task, seq)``), labelled by what it did (op, object, choice), so runs whose
choices differ are different traces.

Cost is quadratic in the length of each execution on top of ``dfs``: use it
on small programs only.
"""

from __future__ import annotations

from checker import Monitor, explore
from checker.dependence import dependent, event_fp

__all__ = ["TraceCollector", "count_traces", "trace_key"]


def trace_key(events) -> tuple:
    """A canonical key of the Mazurkiewicz trace of a sequence of engine events."""
    labels = []
    order = []
    n = len(events)
    fps = [event_fp(e) for e in events]
    for i in range(n):
        a = events[i]
        labels.append((a.task, a.seq, a.action.op, a.obj, a.choice))
        for j in range(i + 1, n):
            b = events[j]
            if a.task == b.task:
                continue  # program order: implied by the seq numbers
            if dependent(fps[i], fps[j]):
                order.append(((a.task, a.seq), (b.task, b.seq)))
    return frozenset(labels), frozenset(order)


class TraceCollector(Monitor):
    """Collects the trace key of every maximal (complete or deadlocked) execution."""

    name = "trace-collector"

    def __init__(self):
        self.keys = set()
        self.executions = 0

    def on_execution_end(self, world):
        self.executions += 1
        self.keys.add(trace_key(world.events))


def count_traces(build, **explore_args):
    """``(traces, dfs_result)``: the trace count of ``build`` by naive enumeration."""
    collector = TraceCollector()
    result = explore(build, scheduler="dfs", properties=[collector], **explore_args)
    return len(collector.keys), result
