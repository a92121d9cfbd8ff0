"""References a task holds: the declaration that lets its reads commute with puts.

A page frame lives while its refcount is above zero (``Var(keeps=frame)``); the
put that drops the last reference frees it.  Every read of the frame's memory
conflicts with every put (a put may free it), so the search orders each read
against each put, in both orders, although a task that holds a reference of
its own reads memory no put can free meanwhile: ``lock_zspage``'s wait on a
busy page (protocol §2.6) holds one, and migration's puts of that page
multiplied the deferred-free worker's traces (docs/benchmarks.md, "Why
`free-deferred` has so many traces").

So a read of a kept object by a task holding a reference to it has a footprint
on the object's memory only (``Obj.mem_uid``), not on its lifetime (``uid``),
which puts touch: it commutes with puts and conflicts with writes and frees.
That is sound if the task's reference really keeps the object alive: no put
can then free it, in either order of the read and a put, and each does what it
did (docs/design.md, "Reads under a reference").  A task's *balance* on a count
is what its own steps added (gets, ``get_page_unless_zero``, puts); references
are fungible, so what is checked is that the count covers every positive
balance: the *slack* ``value - sum of positive balances`` is never negative,
after every step on the count, and no object is freed while a balance is
positive.  Whether some step makes the slack negative is the same in every
execution of a trace: the search keeps the order of a get against a put (they
conflict), a get never lowers the slack and a put never raises it, so within a
run of puts, which commute, the least slack is the one after the last whatever
their order (the reads the reduction reorders change no count).  A check made
only while some balance is positive would not be: a put of a reference nobody
holds after the holder's last put leaves it positive, before it not.  So an
execution that breaks it is reached by the reduced search as by the full one,
and one that does makes ``explore`` start again without the reduction
(:class:`~checker.reductions.ReferenceBroken`, like a broken guard).
"""

from __future__ import annotations


def _broken(msg: str):
    from .reductions import ReferenceBroken  # reductions builds on the World
    return ReferenceBroken(msg)


class References:
    """One execution's balances: ``bal[(task, count uid)]`` and, per count, the
    sum of the positive ones (``held``)."""

    __slots__ = ("bal", "held")

    def __init__(self):
        self.bal = {}
        self.held = {}

    def holds(self, task, var) -> bool:
        """Whether task ``task`` holds references it took on count ``var``."""
        return self.bal.get((task.index, var.uid), 0) > 0

    def add(self, task, var, delta: int) -> None:
        """Task ``task``'s step changed count ``var`` by ``delta``, which it may now hold."""
        key = (task.index, var.uid)
        old = self.bal.get(key, 0)
        new = old + delta
        self.bal[key] = new
        d = max(new, 0) - max(old, 0)
        if d:
            self.held[var.uid] = self.held.get(var.uid, 0) + d
        self.check(task, var)

    def check(self, task, var) -> None:
        """The count must cover the references tasks hold (after any step on it)."""
        held = self.held.get(var.uid, 0)
        value = var._value
        # Also with none held (an underflow): what must not depend on the order of the
        # puts, which commute, is the least slack ``value - held`` over the execution;
        # a put of a reference nobody holds may come before another task's last put.
        if not isinstance(value, int) or value < held:
            raise _broken(
                f"task {task.name}'s step leaves {var.name} at {value!r}, below the {held} "
                f"reference(s) tasks took on {var.keeps.name} and hold (reads under a "
                f"reference explored as ordinary reads)")

    def freed(self, task, obj) -> None:
        """A free of a kept object (not by its count's last put) while referenced."""
        var = obj.kept_by
        if self.held.get(var.uid, 0):
            raise _broken(
                f"task {task.name} frees {obj.name} while tasks hold references they took on "
                f"{var.name} (reads under a reference explored as ordinary reads)")
