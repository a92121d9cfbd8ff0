"""The race detector kept across executions and cut back to the shared prefix.

Each execution of a systematic search (dpor, dfs) replays the one before it
up to the step it branched at, and :class:`~checker.races.RaceDetector`
used to order and check every step of that prefix again: about two thirds
of its steps on the model at depth 2 (issue 14).  ``explore`` now hands the
detector of one execution to the next (:meth:`RaceDetector.kept`), which
skips each step it shares with the last one and, at the first step that
differs, undoes the last execution's steps from there on (:func:`rewind`)
and goes on as a fresh detector would.

Why the state is then the one a fresh detector reaches.  A step of the
detector is a function of its state before the step, the step's event, the
locks the search relaxed for it and the World's state when it is judged
(lifetimes: whether the object is alive; the events, for a message).  The
event and the World are functions of the steps before it: a program's
``build()`` is deterministic (dpor's replay checks it) and each World step
is named by its task and the value of its choice (the key of
:mod:`checker.schedulers.prefix`, found, not trusted).  So while the keys
``(task, choice, relaxed locks)`` of this execution's steps equal the last
one's, one by one from the first, the detector's state after them is the
same; the first that differs is judged after undoing the last execution's
steps from there on, newest first, each restoring what it changed (its
task's vector clock, the locations' last write and reads, the lifetime
lists).  Two things the keys do not name are excluded instead:

* a finding.  A detector that reported (data race, use after free) stops
  checking for the rest of its execution, and a violation of a monitor can
  end a grouped step early (:mod:`checker.reductions`), which moves the
  judgement of the steps in it; so a detector whose execution found anything
  is not kept, and no step is skipped once this execution has a violation;
* a weak memory model, whose detector shares its clocks with the model's
  machine: it is never kept.

The log costs a copy of one vector clock per step and a tuple per location
written; tests/test_race_prefix.py checks, on the differential fuzzer's
programs, that every execution's findings are those of a fresh detector.
"""

from __future__ import annotations

class _Absent:
    """A reads entry that was not there (one object, also in a copy of a detector)."""

    def __deepcopy__(self, memo):
        return self


_ABSENT = _Absent()
_NEW = 0                # (_NEW, location, None): the location was made by the step
_USES = 1               # (_USES, lifetime, had): a use appended to its list
_LIVES = 2              # (_LIVES, lifetime, had): a put/free/alloc appended to its list
_POPPED = 3             # (_POPPED, lifetime, list): the uses judged at a free


def rewind(det, m: int) -> None:
    """Undo ``det``'s steps from the ``m``-th on, newest first."""
    undo = det._undo
    locs, uses, lives, vc, svc = det.locs, det.uses, det.lives, det.vc, det.svc
    for j in range(len(undo) - 1, m - 1, -1):
        log = undo[j]
        for k in range(len(log) - 1, 2, -1):
            r = log[k]
            tag = r[0]
            if tag == _NEW:
                del locs[r[1]]
            elif tag == _USES:
                _pop_last(uses, r[1], r[2])
            elif tag == _LIVES:
                _pop_last(lives, r[1], r[2])
            elif tag == _POPPED:
                uses[r[1]] = r[2]
            else:
                loc, loc.w, reads, loc.has_late, rk, old = r
                loc.reads = reads
                if rk is not None:
                    if old is _ABSENT:
                        del reads[rk]
                    else:
                        reads[rk] = old
        vc[log[0]][:] = log[1]
        svc[log[0]][:] = log[2]
    del undo[m:]
    del det._keys[m:]
    det._log = None


def _pop_last(dct, key, had: bool) -> None:
    lst = dct[key]
    lst.pop()
    if not had:
        del dct[key]
