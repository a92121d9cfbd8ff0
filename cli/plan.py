"""What one ``zsmc check`` will do, validated before anything is explored.

:meth:`CheckPlan.from_options` takes the parsed options and checks every
combination once: a bad one is a :class:`checker.errors.UsageError` (one line,
exit 2), raised before the first execution, so a typo costs no search time
and writes nothing.  The plan then says which search runs (``search``, a key
of :data:`cli.strategies.STRATEGIES`) on which builds (one per scenario and
CPU count), with which budgets, and where and how the results go.
"""

from __future__ import annotations

import errno
import importlib
import os
import tempfile
import time
from dataclasses import dataclass
from typing import NamedTuple

from checker.errors import UsageError

from .check import DEFAULT_VARIANT
from .strategies import search_for

SAMPLED = ("random", "pct", "hypothesis")
EXHAUSTIVE = ("dpor", "dfs")


class Build(NamedTuple):
    """One scenario at one CPU count: its name, build function and JSON-able params."""

    name: str
    build: object
    params: dict


@dataclass(frozen=True, slots=True)
class CheckPlan:
    """The validated settings of one ``zsmc check`` (what it found is the session's)."""

    reg: object                       # the model registry (model.registry, or a test's fake)
    cls: type                         # the variant checked
    label: str                        # its name in reports: a version, FILE:CLASS, version+mutation
    mutation: str | None
    depth: int
    builds: tuple                     # of Build, scenario by scenario, each at its CPU counts
    search: str                       # invariant: a key of cli.strategies.STRATEGIES
    scheduler: str
    preemption_bound: object          # None, an int >= 0, or "auto"
    props: list | None                # property names; None: every property that applies
    max_executions: int | None
    time_limit: float | None
    seed: int
    executions: int | None            # invariant: None unless the scheduler is sampled
    pct_depth: int
    jobs: int
    dask: str | None
    checkpoint: str | None            # invariant: with resume, only for exactly one build
    resume: str | None
    cpus: int | None
    max_steps: int | None
    config: str                       # the kernel configuration: "default" or "rt"
    memory_model: str                 # the memory model: "sc" or "ra"
    output: str                       # "text" or "json"
    out: str                          # invariant: a writable directory, or creatable in one
    no_minimize: bool = False
    exitfirst: bool = False
    review: tuple = ()                # the review scenarios added to the default set (at depth 1)
    rt_pass: tuple = ()               # the default scenarios run again on PREEMPT_RT (at depth 1)
    quiet: bool = False
    all_steps: bool = False
    show_coverage: bool = False
    note: str | None = None           # printed after the result line
    started: float | None = None      # time.monotonic() when the check began: --time-limit counts from it

    @classmethod
    def from_options(cls, **options) -> CheckPlan:
        """The plan of ``zsmc check`` with these options; UsageError names the first bad one.

        ``--time-limit`` counts from here: loading the variant and building its
        scenarios (model code, which may loop) spend the same budget as the search
        (a variant that took the limit to load used to get it again for the search)."""
        started = time.monotonic()
        return _within(options.get("time_limit"), started, cls._from_options, started, options)

    @classmethod
    def _from_options(cls, started, options, *, phase) -> CheckPlan:
        return cls._plan(started=started, phase=phase, **options)

    @classmethod
    def _plan(cls, *, depth, variant, mutation, scenarios, cpus, scheduler, preemption_bound,
              properties, max_executions, time_limit, seed, output, out, no_minimize, quiet,
              all_steps, executions, pct_depth, jobs, dask, checkpoint, resume, show_coverage,
              max_steps, config=None, exitfirst=False, memory_model=None,
              review=None, started=None, phase=None) -> CheckPlan:
        reg = load("model.registry")
        label, variant_cls = resolve_variant(reg, variant, mutation)
        phase[0] = "its scenarios were built"
        # A mutation shows on its kernel configuration unless told otherwise.
        config = config or (getattr(reg.MUTATIONS[mutation], "config", "default") if mutation else "default")
        if config != "default" and scheduler == "hypothesis":
            raise UsageError("--scheduler hypothesis runs the state machine, which models a "
                             "!PREEMPT_RT kernel only; use dpor, dfs, random or pct with --config rt")
        # Likewise the memory model a mutation needs (checker.memory_model).
        memory_model = memory_model or (getattr(reg.MUTATIONS[mutation], "memory_model", "sc")
                                        if mutation else "sc")
        if memory_model != "sc" and scheduler == "hypothesis":
            raise UsageError("--scheduler hypothesis runs the state machine, whose steps take no "
                             "read-from choices; use dpor, dfs, random or pct with --memory-model ra")
        # --scenario X twice: once.
        names = list(dict.fromkeys(scenarios)) or default_scenarios(reg, variant_cls)
        extra = review_added(reg, variant_cls, label, mutation, scenarios, review)
        extra, nomem_note = state_machine_fails_nothing(reg, scheduler, names, extra)
        rt = rt_pass_added(names, extra, config, memory_model, scheduler)
        props = check_properties(properties)
        check_search(scheduler, preemption_bound, executions, seed,
                     split=jobs > 1 or dask is not None or checkpoint is not None or resume is not None)
        # Validate every scenario before exploring any.  Without --cpus a scenario runs at
        # each of its CPU counts (a two-CPU race and its one-CPU counterpart).
        if (checkpoint or resume) and len(names) != 1:
            raise UsageError("--checkpoint and --resume need exactly one --scenario")
        counts = {name: cpu_counts(reg, name, cpus) for name in names + extra}
        note = None
        if (checkpoint or resume) and len(counts[names[0]]) > 1:
            # A checkpoint holds one search: the scenario at its first CPU count.
            first, rest = counts[names[0]][0], counts[names[0]][1:]
            note = (f"note: --checkpoint/--resume checked {names[0]} on {first} CPU(s) only; "
                    f"also run --cpus {' and --cpus '.join(map(str, rest))} for the other count(s)")
            counts[names[0]] = [first]
        kw = _build_kw(config, memory_model)
        builds = tuple(Build(name, *reg.make_build(variant_cls, name, depth, c, **kw))
                       for name in names for c in counts[name])
        # The cheaper extra pass first (a few seconds against a minute of review scenarios).
        builds += tuple(Build(name, *reg.make_build(variant_cls, name, 1, c, **_build_kw("rt", memory_model)))
                        for name in rt for c in counts[name])
        builds += tuple(Build(name, *reg.make_build(variant_cls, name, 1, c, **kw))
                        for name in extra for c in counts[name])
        failing = getattr(reg, "failure_note", None)
        for nomem in (nomem_note, failing(variant_cls, names + extra + rt) if failing else None):
            if nomem:
                note = f"{note}\n{nomem}" if note else nomem
        check_files(dask, out, checkpoint, resume)
        search = search_for(scheduler, preemption_bound, jobs, dask, checkpoint, resume, len(builds))
        if search in ("split", "pooled", "bounded", "auto-bound") and _has_interrupts(builds):
            # dpor's reasoning about who may run on a CPU does not cover interrupt
            # handlers (checker.interrupts): such programs are explored by dfs.
            if search == "auto-bound" or jobs > 1 or dask or checkpoint or resume:
                raise UsageError("the scenario has interrupt handlers, which only dfs explores: "
                                 "drop --jobs/--dask/--checkpoint/--resume and --preemption-bound auto")
            search, scheduler = "exhaustive", "dfs"
            note = ("note: interrupt handlers: explored by dfs, without reduction (dpor's reduction "
                    "does not cover them yet)" + (f"\n{note}" if note else ""))
        elif search in ("split", "pooled", "bounded", "auto-bound") and memory_model != "sc":
            # One dpor search takes the read-from choices (checker.memory_model); the split
            # search and the bounded ones were not checked against dfs with them.
            if search == "auto-bound" or jobs > 1 or dask or checkpoint or resume:
                raise UsageError(f"--memory-model {memory_model} is explored by one serial search: "
                                 f"drop --jobs/--dask/--checkpoint/--resume and --preemption-bound auto")
            search = "exhaustive"
            note = (f"note: memory model {memory_model}: one serial {scheduler} search (the split "
                    f"search does not take read-from choices yet)" + (f"\n{note}" if note else ""))
        if resume and search == "split":
            # The checkpoint itself, before anything is printed or explored.
            phase[0] = "the checkpoint was read"
            from checker.parallel import check_resume
            check_resume(builds[0].build, resume, key=builds[0].params)
        usable = usable_cpus()
        if jobs > usable and dask is None:
            # More processes than CPUs buy no speed and cost a process each (a typo of
            # --jobs 99999999 forked until memory ran out): as many as there are CPUs.
            capped = f"note: --jobs {jobs}: {usable} process(es), one per CPU this process may run on"
            note = "\n".join(filter(None, [capped, note]))
            jobs = usable
        return cls(reg=reg, cls=variant_cls, label=label, mutation=mutation, depth=depth, builds=builds,
                   search=search,
                   scheduler=scheduler, preemption_bound=preemption_bound, props=props,
                   max_executions=max_executions, time_limit=time_limit, seed=seed, executions=executions,
                   pct_depth=pct_depth, jobs=jobs, dask=dask, checkpoint=checkpoint, resume=resume, cpus=cpus,
                   max_steps=max_steps, config=config, memory_model=memory_model, output=output, out=out, no_minimize=no_minimize,
                   exitfirst=exitfirst, review=tuple(extra), rt_pass=tuple(rt), quiet=quiet,
                   all_steps=all_steps, show_coverage=show_coverage, note=note, started=started)

    @property
    def scenario_names(self) -> list:
        """The scenarios checked, in order, each once (a scenario may run at several CPU counts)."""
        return list(dict.fromkeys(b.name for b in self.builds))

    def header(self) -> dict:
        """The settings a report opens with (and a trace's ``meta`` records), in that order."""
        h = {"variant": self.label, "mutation": self.mutation, "depth": self.depth,
             "scheduler": self.scheduler, "preemption_bound": self.preemption_bound, "seed": self.seed,
             "properties": self.props, "max_executions": self.max_executions,
             "time_limit": self.time_limit}
        if self.config != "default":
            h["config"] = self.config           # absent on the default: reports as before
        if self.memory_model != "sc":
            h["memory_model"] = self.memory_model   # likewise
        if self.review:
            h["review"] = list(self.review)         # likewise: only a check that added them
        if self.rt_pass:
            h["rt_pass"] = list(self.rt_pass)       # likewise
        return h

    def kw_of(self, params) -> dict:
        """The keyword arguments of ``reg.make_build`` for one build's kernel semantics, by
        its params (the check's, but the PREEMPT_RT pass's builds are on RT)."""
        config = params.get("config", self.config) if isinstance(params, dict) else self.config
        return _build_kw(config, self.memory_model)


def _build_kw(config, memory_model) -> dict:
    kw = {"config": config} if config != "default" else {}
    if memory_model != "sc":
        kw["memory_model"] = memory_model
    return kw


def _has_interrupts(builds) -> bool:
    from checker.objects import making
    try:
        with making():
            return any(b.build().has_interrupts for b in builds)
    except Exception:       # noqa: BLE001  (a build that fails: the search reports it, in one line)
        return False


def _within(time_limit, started, fn, *args):
    """``fn(*args, phase=[...])`` stopped by the time limit counted from ``started``
    (time.monotonic): a variant file that loops at import (or a build that does) kept
    zsmc from ever starting the check's own clock (``--time-limit 2`` ran on until
    killed).  Incomplete, not verified, with where it was (exit 3); ``phase[0]``
    says what was being done."""
    from checker.budget import Expired, Watchdog
    deadline = None if time_limit is None else time.perf_counter() + time_limit - (time.monotonic() - started)
    dog = Watchdog(deadline)
    phase = ["the variant was loaded"]
    try:
        return fn(*args, phase=phase)
    except Expired as exc:
        from checker.errors import LoadExpired
        raise LoadExpired(f"incomplete, not verified: the time limit of {time_limit:g}s ran out while "
                          f"{phase[0]} ({exc.where})") from None
    finally:
        dog.cancel()


def load(module: str):
    """Import one of zsmc's own modules; a missing one is an installation problem."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise UsageError(f"cannot import {module} ({exc}); is zsmc installed (pip install -e .)?") from exc


# -- the options, one check each (in the order a report of the first bad one follows) --------------
def resolve_variant(reg, variant, mutation):
    """(label, class) for --variant/--mutation; UsageError names the bad value."""
    if mutation is None:
        spec = DEFAULT_VARIANT if variant is None else variant
        return spec, reg.load_variant(spec)
    m = reg.MUTATIONS.get(mutation)
    if m is None:
        raise UsageError(f"unknown mutation {mutation!r}; known mutations: {', '.join(sorted(reg.MUTATIONS))}")
    if not getattr(m, "expressible", True) or m.cls is None:
        raise UsageError(f"mutation {mutation!r} cannot be expressed in the model: {m.reason or 'no reason given'}")
    version = m.base if variant is None else variant
    if version not in reg.VERSIONS:
        raise UsageError(f"--mutation applies to a built-in version, not {version!r}; "
                         f"versions: {', '.join(sorted(reg.VERSIONS))}")
    return f"{version}+{mutation}", reg.variant_for(version, mutation)


def default_scenarios(reg, variant=None) -> list:
    """The default set; for a variant whose caller runs clients in interrupt context
    (``IRQ_CLIENTS``), the scenarios that have such a client instead.  The default
    set has none, so it would pass without running the variant's context at all, and
    a program with interrupt handlers is explored by dfs (checker.interrupts), too
    slow for the whole set: other scenarios are named with --scenario."""
    irq = set(getattr(variant, "IRQ_CLIENTS", ()))
    if irq:
        names = [n for n, s in reg.SCENARIOS.items() if irq & {t.name for t in getattr(s, "tasks", ())}]
        if names:
            return names
    names = [n for n, s in reg.SCENARIOS.items() if getattr(s, "default", True)]
    if not names:
        raise UsageError("the model defines no default scenario; name one with --scenario "
                         "(zsmc list scenarios)")
    return names


def review_added(reg, variant_cls, label, mutation, scenarios, review) -> list:
    """The review scenarios a check adds to the default set (they run at depth 1, after it):
    with ``--review``, or by default for a patch's check; none with ``--quick``, with
    ``--scenario`` (the user chose), or for a variant whose clients run in interrupt
    context (its set is the scenarios that have such a client)."""
    if review and scenarios:
        raise UsageError("--review adds the review scenarios to the default set; with --scenario, "
                         f"name them too ({', '.join(review_scenarios(reg)) or 'none defined'})")
    if scenarios or review is False or getattr(variant_cls, "IRQ_CLIENTS", ()):
        return []
    if review is None and not _is_patch(reg, label, mutation):
        return []
    return review_scenarios(reg)


def state_machine_fails_nothing(reg, scheduler, names, extra) -> tuple:
    """``(extra, note)``: the state machine (``--scheduler hypothesis``) takes a scenario's
    pool, not its allocation failures (model/failure.py), so a named scenario that makes
    allocations fail is refused, and such review scenarios are left out (said in a note)."""
    if scheduler != "hypothesis":
        return extra, None
    scenarios = getattr(reg, "SCENARIOS", {})
    failing = [n for n in names if getattr(scenarios.get(n), "alloc_failure", ())]
    if failing:
        raise UsageError(f"--scheduler hypothesis runs the state machine, whose allocations never "
                         f"fail; scenario {failing[0]} makes them fail: use dpor, dfs, random or pct")
    left = [n for n in extra if getattr(scenarios.get(n), "alloc_failure", ())]
    if not left:
        return extra, None
    note = (f"note: --scheduler hypothesis: review scenario(s) {', '.join(left)} left out (the "
            f"state machine's allocations never fail)")
    return [n for n in extra if n not in left], note


def rt_pass_added(names, review, config, memory_model, scheduler) -> list:
    """The default scenarios a check runs again on a PREEMPT_RT kernel, at depth 1, after
    the default set: whenever it adds the review scenarios (a patch's check, or
    ``--review``), on a !PREEMPT_RT check of the sequentially consistent model.  A patch
    ships to both kernels, and some bugs are bugs on one only (a spinlock_t taken inside
    preempt_disable() sleeps in atomic context on RT: red team round 3's
    free_preempt_disabled passed a patch's check that ran !RT alone).  Not for the
    state machine (``--scheduler hypothesis``), which models !RT only."""
    if not review or config != "default" or memory_model != "sc" or scheduler == "hypothesis":
        return []
    return list(names)


def review_scenarios(reg) -> list:
    """The review set: scenarios a patch's check runs at depth 1 after the default set."""
    return [n for n, s in reg.SCENARIOS.items() if getattr(s, "review", False)]


def _is_patch(reg, label, mutation) -> bool:
    """A variant from a file or module (not a built-in version or a catalogue mutation,
    whose checks the tests pin on the default set)."""
    return mutation is None and label not in getattr(reg, "VERSIONS", {label: None})


def check_properties(names):
    if not names:
        return None
    from checker.monitor import resolve
    for n in names:
        resolve(n)  # UsageError for an unknown or unloadable property
    return list(dict.fromkeys(names))


def check_search(scheduler, preemption_bound, executions, seed, split: bool) -> None:
    """The scheduler exists here, and the bound, --executions and the split options fit it."""
    auto = preemption_bound == "auto"
    if auto and scheduler not in EXHAUSTIVE:
        raise UsageError(f"--preemption-bound auto needs an exhaustive scheduler (dpor, dfs), not {scheduler!r}")
    if executions is not None and scheduler not in SAMPLED:
        raise UsageError("--executions sets how many executions a sampled scheduler (random, pct, "
                         "hypothesis) runs; an exhaustive search's budget is --max-executions")
    if scheduler == "hypothesis":
        if preemption_bound is not None:
            raise UsageError("--preemption-bound does not apply to --scheduler hypothesis")
    else:
        check_scheduler(scheduler, 0 if auto else preemption_bound, seed)
    if split and (scheduler != "dpor" or preemption_bound is not None):
        raise UsageError("--jobs, --dask, --checkpoint and --resume split a dpor search without "
                         "a preemption bound")


def check_scheduler(name, preemption_bound, seed) -> None:
    from checker.schedulers import SCHEDULERS, make_scheduler
    if name not in SCHEDULERS:
        raise UsageError(f"unknown scheduler {name!r}; known schedulers: {', '.join(sorted(SCHEDULERS))}")
    try:
        make_scheduler(name, preemption_bound=preemption_bound, seed=seed)
    except ImportError as exc:
        raise UsageError(f"scheduler {name!r} is not available in this installation ({exc}); "
                         "try --scheduler dfs") from exc


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cpu_counts(reg, name, cpus) -> list:
    """The CPU counts to check scenario ``name`` at: ``--cpus``, else the scenario's own."""
    counts = getattr(reg, "cpu_counts", None)
    if counts is not None:
        return counts(name, cpus)
    return [cpus] if cpus else [None]


# -- files, checked before the search ------------------------------------------------------------
def check_files(dask, out, checkpoint, resume) -> None:
    """The Dask address, --out, --checkpoint and --resume can be used as given."""
    if dask is not None:
        check_dask_address(dask)
    check_out_dir(out)
    if checkpoint is not None:
        from checker.checkpoint import check_target
        check_file_target("--checkpoint", checkpoint)
        check_target(checkpoint)
    if resume is not None:
        if not resume:
            raise UsageError("--resume needs a checkpoint file name, got an empty one")
        if not os.path.lexists(resume):
            raise UsageError(f"--resume: no such checkpoint file: {resume}")
        if not os.path.isfile(resume):
            raise UsageError(f"--resume {resume} is not a regular file")


def check_dask_address(address: str) -> None:
    """A Dask scheduler address is ``[tcp://]host:port`` (or ``inproc://``, ``tls://``, ``ucx://``)."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    host, colon, port = rest.rpartition(":")
    if scheme not in ("tcp", "tls", "inproc", "ucx", "ws", "wss") or (
            scheme != "inproc" and (not colon or not host or not port.isdigit() or not 0 < int(port) < 65536)):
        raise UsageError(f"--dask {address!r} is not a scheduler address (tcp://host:port)")


def check_out_dir(out: str) -> None:
    """``--out`` must be a writable directory, or creatable in one: checked before any search
    (by creating and removing a file, or a directory, there: ``os.access`` says yes to root
    where nothing can be made, under /proc say)."""
    if not out.strip():
        raise UsageError("--out is empty: name the directory the trace files go to")
    _no_broken_link(out)
    if os.path.exists(out):
        if not os.path.isdir(out):
            raise UsageError(f"--out {out} is not a directory")
        if not os.access(out, os.W_OK | os.X_OK):
            raise UsageError(f"--out {out} is not writable")
        _probe(out, f"--out {out} is not writable")
        return
    parent = _existing_parent(out)
    _no_broken_link(parent, f"--out {out} cannot be created: {parent}")
    if not os.path.isdir(parent):
        raise UsageError(f"--out {out} cannot be created: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out} cannot be created: {parent} is not writable")
    _probe(parent, f"--out {out} cannot be created in {parent}", make_dir=True)


def _no_broken_link(path: str, what: str | None = None) -> None:
    """A symbolic link that leads nowhere (to nothing, or round in a loop) is refused."""
    if os.path.lexists(path) and not os.path.exists(path):
        try:
            os.stat(path)
            why = "a symbolic link that leads nowhere"
        except OSError as exc:
            why = ("a symbolic link to nothing" if exc.errno == errno.ENOENT
                   else f"a symbolic link that leads nowhere ({exc.strerror or exc})")
        raise UsageError(f"{what or f'--out {path}'} is {why}")


def _probe(folder: str, what: str, make_dir: bool = False) -> None:
    """Make a file (``make_dir``: a directory) in ``folder`` and remove it."""
    try:
        if make_dir:
            os.rmdir(tempfile.mkdtemp(dir=folder, prefix=".zsmc-probe-", suffix=".tmp"))
        else:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".zsmc-probe-", suffix=".tmp")
            os.close(fd)
            os.unlink(tmp)
    except OSError as exc:
        raise UsageError(f"{what}: {exc.strerror or exc}") from None


def check_file_target(option: str, path: str) -> None:
    """A file zsmc will write (``--checkpoint``): its directory exists and is writable."""
    if not path:
        raise UsageError(f"{option} needs a file name, got an empty one")
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"{option} {path} is a directory")
    if not os.path.isdir(folder):
        raise UsageError(f"{option} {path}: no such directory {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: directory {folder} is not writable")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise UsageError(f"{option} {path} is not writable")


def _existing_parent(path: str) -> str:
    p = os.path.abspath(path)
    while not os.path.lexists(p):
        up = os.path.dirname(p)
        if up == p:
            break
        p = up
    return p
