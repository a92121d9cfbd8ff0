"""``zsmc check``: its options, and the command that turns them into a plan and runs it.

The options are parsed by click (each value type names what it refuses,
:mod:`cli.params`); :class:`cli.plan.CheckPlan` validates their combinations
once, before anything is explored; :func:`cli.session.run` explores through
the plan's search strategy (:mod:`cli.strategies`), writes and prints.  The
heavy modules are imported when the command runs, so ``zsmc --help`` starts
fast.
"""

from __future__ import annotations

import click

from . import complete
from .params import MAX_CPUS, MAX_DEPTH, BoundType, PositiveInt, Seconds

DEFAULT_VARIANT = "upstream"
DEFAULT_OUT = "zsmc-traces"


@click.command(short_help="Explore the scenarios and check the properties.")
@click.option("--depth", type=PositiveInt(1, MAX_DEPTH), default=1, show_default=True,
              help=f"Operations per client task (and rounds per background task), at most {MAX_DEPTH}.")
@click.option("--variant", metavar="NAME|FILE:CLASS", default=None, shell_complete=complete.variants,
              help=f"Built-in version or a subclass of one (default {DEFAULT_VARIANT}, "
                   "or the mutation's base version).")
@click.option("--mutation", metavar="NAME", default=None, help="Seeded bug to check (zsmc list mutations).",
              shell_complete=complete.mutations)
@click.option("--scenario", "scenarios", metavar="NAME", multiple=True, shell_complete=complete.scenarios,
              help="Scenario to explore (repeatable; default: the default scenario set, and for a "
                   "patch (a variant from a file or module) the review scenarios too, at depth 1).")
@click.option("--review/--quick", "review", default=None,
              help="With no --scenario: add the review scenarios (zsmc list scenarios: four roles, "
                   "two per CPU; tens of seconds each) at depth 1 to the default set, or leave them "
                   "out.  Default: a patch's check adds them, a version's or a mutation's does not.")
@click.option("--config", type=click.Choice(["default", "rt"]), default=None,
              help="Kernel configuration: default (!PREEMPT_RT) or rt (PREEMPT_RT: spinlock_t, rwlock_t "
                   "and local_lock_t sleep).  Default: the mutation's, else default.")
@click.option("--memory-model", "memory_model", type=click.Choice(["sc", "ra"]), default=None,
              help="Memory model: sc (sequentially consistent) or ra (release/acquire and relaxed "
                   "atomics: a load may read an older store).  Default: the mutation's, else sc.")
@click.option("--cpus", type=PositiveInt(1, MAX_CPUS), default=None,
              help=f"CPUs (default: each scenario's own), at most {MAX_CPUS}.")
@click.option("--scheduler", metavar="NAME", default="dpor", show_default=True, shell_complete=complete.schedulers,
              help="Search (zsmc list schedulers).")
@click.option("--preemption-bound", type=BoundType(), default=None, metavar="K|auto",
              help="At most K preemptions per execution; auto: K = 0, 1, 2, ... until a "
                   "violation (with the fewest preemptions) or a bound that cuts nothing.")
@click.option("--property", "properties", metavar="NAME", multiple=True, shell_complete=complete.properties,
              help="Property to check (repeatable; default: every property that applies).")
@click.option("--max-executions", type=PositiveInt(1), default=None, metavar="N",
              help="Execution budget, per scenario.")
@click.option("--time-limit", type=Seconds(), default=None, metavar="S",
              help="Wall-clock budget in seconds for the whole check.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the randomised schedulers.")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--out", type=click.Path(file_okay=False), default=DEFAULT_OUT, show_default=True,
              help="Directory for the trace files of violations.")
@click.option("--no-minimize", is_flag=True, help="Write traces as found, without z3 minimisation.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the result line and the trace files.")
@click.option("-x", "--exitfirst", is_flag=True,
              help="Stop at the first violation (the scenarios not checked yet are named).")
@click.option("--all-steps", is_flag=True,
              help="Print every step of a violation's trace, not only lock and preemption steps.")
@click.option("--executions", type=PositiveInt(1), default=None, metavar="N",
              help="Executions per scenario of a sampled scheduler (random: 1000, pct: 5000; "
                   "hypothesis: examples, 200).")
@click.option("--pct-depth", type=PositiveInt(1), default=3, show_default=True, metavar="D",
              help="The bug depth d of the pct scheduler.")
@click.option("--jobs", type=PositiveInt(1), default=1, show_default=True, metavar="N",
              help="Explore independent subtrees of the dpor search on N processes.")
@click.option("--dask", metavar="ADDRESS", default=None,
              help="Explore the subtrees on a Dask cluster (tcp://host:8786; pip install 'zsmc[dask]').")
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Save finished subtrees of a split search to FILE as they finish (one scenario).")
@click.option("--resume", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Continue the split search saved in FILE: its finished subtrees are not run again.")
@click.option("--coverage", "show_coverage", is_flag=True,
              help="Print which kernel functions ran in which scenarios (JSON always has it).")
@click.option("--max-steps", type=PositiveInt(1), default=None, metavar="N",
              help="Steps one execution may take before the model is declared runaway "
                   "(default 20000): a task that never finishes is an error, not a hang.")
def check(**options):
    """Explore every interleaving of the scenarios and check the properties.

    Every violation is written as a trace file under --out (minimised unless
    --no-minimize) before it is reported; `zsmc replay PATH` reproduces it.
    Exit 0 only when every scenario was explored completely without violation;
    3 means a budget ran out first: incomplete, not verified.  Ctrl-C or
    SIGTERM stops within seconds and still reports (and writes) what was
    found, marked interrupted (exit 130 or 143, or 1 if a violation was found).
    """
    from .plan import CheckPlan
    from .session import (
        model_cannot_exit,
        model_cannot_fork,
        model_keeps_interpreter,
        model_output_to_stderr,
        run,
    )
    # A variant's prints must not corrupt the report, nor its os._exit() end the check unseen,
    # nor its os.fork() run the search twice, nor its sys.setrecursionlimit() break zsmc.
    with model_output_to_stderr() as out, model_cannot_exit(), model_cannot_fork(), \
            model_keeps_interpreter():
        return run(CheckPlan.from_options(**options), out)
