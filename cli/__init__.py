"""zsmc's command line: ``check``, ``replay``, ``minimize``, ``show``, ``list``.

Thin by design (ARCHITECTURE.md section 7): parse, call the engine, the model
registry and the trace modules, print.  Everything heavy is imported inside
the command that needs it, so ``zsmc --help`` and ``zsmc list`` start fast.

==============  ===============================================================
``app``         the ``zsmc`` group (errors to one line and an exit code) and the
                small commands: ``replay``, ``minimize``, ``show``, ``list``
``check``       ``zsmc check``: its options; it builds a plan and runs it
``plan``        :class:`~cli.plan.CheckPlan`: every option combination validated
                once, before anything is explored
``strategies``  one search strategy per kind (exhaustive, bounded, auto-bound,
                split, pooled, sampled, hypothesis), in one table
``session``     one check from its plan to its exit code: explore, persist, report
``format``      how reports, progress and lists are printed (text and JSON)
``params``      the options' value types
``trust``       what ``replay`` and ``minimize`` run of a trace (the trust rules)
``variant``     ``zsmc variant new`` and ``zsmc variant diff``
``complete``    shell completion of variant, mutation, scenario ... names
==============  ===============================================================

Exit codes (docs/cli.md):

====  ======================================================================
0     pass: every scenario explored completely, nothing violated
      (``replay``: the trace does not violate)
1     a violation was found (``replay``: the trace violates)
2     bad usage or input: one line on stderr, never a traceback
3     incomplete, not verified: a budget ran out before the search finished,
      and no violation was found in what was explored
4     a bug in zsmc itself (one line; ``ZSMC_DEBUG=1`` shows the traceback)
5     not a pass: explored completely without violation, but a function the
      variant or mutation changes never ran, so the check says nothing about it
130   interrupted by Ctrl-C (143: by SIGTERM, 129: by SIGHUP) before a violation was found;
      what was found is still reported (docs/cli.md, "Interrupted runs")
====  ======================================================================
"""

from __future__ import annotations

import os as _os
import signal as _signal
import sys as _sys

from . import early as _early


def _starting(signum, frame):
    # Not an exception: raised inside the imports, Python may wrap it (a RuntimeError out of
    # a dataclass's __set_name__).  Nothing is written yet, so there is nothing to finish
    # but the line (and, for `check --format json`, its document: cli.early).
    try:
        _os.write(2, b"zsmc: error: interrupted: nothing verified\n")
        if _early.wants_json(_sys.argv[1:]):
            _os.write(1, (_early.document(128 + signum, "interrupted: nothing verified") + "\n").encode())
    finally:
        _os._exit(128 + signum)


# Ctrl-C, SIGTERM or SIGHUP while zsmc starts (its imports take a few tenths of a second):
# one line and 128 + the signal, as later, not a traceback and exit 1 (a "violation" to a
# script) nor a silent death.  The handlers are put back once the imports are done
# (cli.app's main installs its own), so importing cli changes nothing for a library user.
_before = {}
try:
    for _sig in (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP):
        if _signal.getsignal(_sig) in (_signal.SIG_DFL, _signal.default_int_handler):
            _before[_sig] = _signal.signal(_sig, _starting)
except ValueError:          # imported outside the main thread: no handlers to set
    pass
try:
    from .app import main
finally:
    for _sig, _handler in _before.items():
        _signal.signal(_sig, _handler)

__all__ = ["main"]
