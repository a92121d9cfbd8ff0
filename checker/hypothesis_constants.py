"""Hypothesis runs that depend on the seed alone, not on what the process imported.

Since 6.131, Hypothesis draws now and then (about one integer draw in twenty)
a constant mined from the source of every *local* module in ``sys.modules``:
an editable install's files, a user's variant file, whatever else the process
happened to import before or during the run.  So a search started with the
same ``--seed`` drew different examples depending on the import history (the
state machine's run of lock-zspage-resumes-from-failed-page with seed 3 found
the bug alone and missed it after ``import model.stateful_search``), and on
whether zsmc was installed editable or not.  A seed must name one run:
:func:`seed_only` turns the mined constants off for the duration of a search
(Hypothesis's built-in constants stay: they do not depend on the process).

It reaches into Hypothesis's internals (there is no setting for this); on a
Hypothesis without the feature it does nothing, which is what we want.
"""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def seed_only():
    """Within the block, Hypothesis's draws depend on the seed and the strategies only."""
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants
        getter = providers._get_local_constants
        cache = providers.CONSTANTS_CACHE.cache
    except (ImportError, AttributeError):
        yield
        return
    none = Constants()
    # The cache of permitted constants per choice type holds the local ones it
    # saw last: empty it on the way in and on the way out.
    cache.clear()
    providers._get_local_constants = lambda: none
    try:
        yield
    finally:
        providers._get_local_constants = getter
        cache.clear()
