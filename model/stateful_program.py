"""The program behind the zsmalloc state machine: tasks whose operations are chosen as they go.

:class:`model.stateful.ZsmallocMachine` starts allocator operations one rule
at a time, but a program is fixed when its execution starts (the engine
builds every task up front, and a trace replays a program plus a schedule).
So the machine's program is a scenario's initial pool plus ``workers`` tasks
per CPU, each a loop that asks ``choose(menu)`` for its next operation and
``choose(keys)`` (or ``choose(pages)``) for its argument.  The machine
answers those choices when it schedules a task; a replay answers them from
the trace's schedule.  The operations, and the model functions they call:

==============  ===========================================================
``zs_malloc:A`` ``roles.malloc_object``: ``zs_malloc`` then a store through
                object API ``A`` (2.1)
``zs_free``     ``roles.free_object``: ``zs_free`` (2.2)
``read:API``    ``roles.read_object``: ``zs_obj_read_begin/end`` (API obj) or
                ``zs_map_object``/``zs_unmap_object`` (map), section 2.3
``write:API``   ``roles.write_object``: ``zs_obj_write`` or a WO mapping
``zs_compact``  ``roles.compaction``, one round (2.4)
``migrate``     the migration core on one page: ``isolate_movable_page``,
                ``migrate_pages`` (2.5)
``free_work``   ``roles.worker``, one round: ``async_free_zspage`` if the
                work is pending (2.6), never in two tasks at once (below)
``exit``        the task ends (the machine's last step for an idle task)
==============  ===========================================================

The caller's side (zram) is :class:`Caller`: its table of live handles, one
sleeping *slot lock* per handle (zram serialises the operations on one
entry, so an operation on a handle takes it first: the serialisation is in
the program, where the minimiser sees it), and the pages the migration core
may pick (the scenario's migration targets, else every page of the initial
pool; a migrated page is replaced by its new page).

A work item is non-reentrant (kernel/workqueue.c: a work queued while it runs
waits for that run to end), so the tasks that run ``free_work`` take
:attr:`Caller.work` around it, a sleeping lock named as lockdep names the
work's own map, ``(work_completion)(&pool->free_work)``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from checker import Mutex, Program, Task, UsageError, choose
from checker.budget import MAX_CPUS

from . import roles

PARAMS_FORMAT = 1
LOADER = "model.registry:build_from_params"     # it hands params with program "stateful" here
EXIT = "exit"
HANDLE_OPS = ("zs_free", "read", "write")       # verbs that take a handle (read/write: verb:api)
LETTERS = "abcdefgh"


@dataclass(slots=True)
class Caller:
    """The users' side of the pool, shared by the tasks (plain data: the slot locks order it).

    ``handles``: key -> Handle of every live handle no ``zs_free`` has started on;
    ``slots``: key -> its slot lock; ``unstored``: initial objects whose
    contents no store label announced yet; ``pages``: name -> Page the
    migration core may pick; ``idle``: task name -> waiting for an operation;
    ``made``: task name -> key of the last handle it allocated.
    """

    handles: dict = field(default_factory=dict)
    slots: dict = field(default_factory=dict)
    unstored: set = field(default_factory=set)
    pages: dict = field(default_factory=dict)
    idle: dict = field(default_factory=dict)
    made: dict = field(default_factory=dict)
    writes: dict = field(default_factory=dict)
    work: Mutex = field(default_factory=lambda: Mutex("(work_completion)(&pool->free_work)",
                                                      "work_completion"))

    def add(self, h, publish: bool = True) -> Mutex:
        """A handle's slot lock; ``publish``: the handle is usable by every task now."""
        slot = self.slots[h.key] = Mutex(f"slot {h.key}", "zram slot lock")
        if publish:
            self.handles[h.key] = h
        return slot

    def value(self, key: str) -> str:
        """A fresh value for a store to ``key`` (each store's value is distinct)."""
        n = self.writes.get(key, 0) + 1
        self.writes[key] = n
        return f"{key}#{n}"


def menu(variant) -> tuple:
    """The operations a task of ``variant`` can be asked for, ``exit`` last."""
    apis = variant.APIS
    return (*(f"zs_malloc:{a}" for a in apis), "zs_free", *(f"read:{a}" for a in apis),
            *(f"write:{a}" for a in apis), "zs_compact", "migrate", "free_work", EXIT)


def task_names(cpus: int, workers: int) -> list:
    """``[(name, cpu)]``: ``cpu0.a``, ``cpu0.b``, ..., ``cpu1.a``, ... (index order)."""
    return [(f"cpu{c}.{LETTERS[w]}", c) for c in range(cpus) for w in range(workers)]


def task(zs, caller: Caller, me: str, ops: tuple, script=None):
    """One task: ask for an operation, perform it, until asked to exit.

    ``script``: the ``[operation, argument]`` pairs a recorded run gave this task,
    in order; each is then the only option of its ``choose`` (so the program is
    finite, and an exhaustive search of it or the minimiser reorders only those
    operations).  After them the task waits at a ``choose`` of ``exit``, as the
    recorded task waited for its next operation.
    """
    made = 0
    script = list(script) if script is not None else None
    while True:
        caller.idle[me] = True
        if script is None:
            op = yield choose(ops)
            arg = None
        elif script:
            op, arg = script.pop(0)
            op = yield choose((op,))
        else:
            yield choose((EXIT,))
            return
        caller.idle[me] = False
        if op == EXIT:
            return
        verb, _, api = op.partition(":")
        if verb == "zs_malloc":
            made += 1
            key = f"{me}.h{made}"
            h = yield from roles.malloc_object(zs, key, caller.value(key), api)
            # zram publishes the handle under its slot lock (zram_set_handle), so
            # whoever takes that slot next is ordered after this allocation.
            slot = caller.add(h, publish=False)
            yield slot.acquire()
            caller.handles[key] = h
            caller.made[me] = key
            yield slot.release()
        elif verb in HANDLE_OPS:
            key = yield choose(sorted(caller.handles) if arg is None else (arg,))
            yield from _on_handle(zs, caller, verb, api, key)
        elif verb == "zs_compact":
            yield from roles.compaction(zs, 1)
        elif verb == "migrate":
            yield from _migrate(zs, caller, (yield choose(sorted(caller.pages) if arg is None else (arg,))))
        elif verb == "free_work":
            yield caller.work.acquire()
            yield from roles.worker(zs, 1)
            yield caller.work.release()


def _on_handle(zs, caller: Caller, verb: str, api: str, key: str):
    slot = caller.slots[key]
    h = caller.handles[key]
    if verb == "zs_free":
        del caller.handles[key]       # nobody may start on it any more
    yield slot.acquire()
    if verb == "zs_free":
        caller.unstored.discard(key)
        yield from roles.free_object(zs, h)
    elif verb == "write":
        caller.unstored.discard(key)
        yield from roles.write_object(zs, h, caller.value(key), api)
    else:
        initial = key in caller.unstored
        caller.unstored.discard(key)
        yield from roles.read_object(zs, h, api, initial)
    yield slot.release()


def _migrate(zs, caller: Caller, name: str):
    """The migration core on page ``name``; a new page replaces it among the candidates."""
    page = caller.pages[name]
    if not (yield from zs.isolate_movable_page(page)):
        return
    newpage = yield from zs.migrate_pages(page)
    if newpage is not None:
        caller.pages.pop(name, None)
        caller.pages[newpage.name] = newpage


def _initial_pages(scen, pool) -> dict:
    """The migration core's candidates: the scenario's migration targets, else every page."""
    pages = {p.name: p for cls in pool.size_class for z in cls.ghost_zspages for p in z.pages()}
    targets = [n for t in scen.tasks if t.role == "migration" for n in t.targets]
    return {n: pages[n] for n in sorted(set(targets))} if targets else pages


def build_program(variant, scen, cpus: int, workers: int, script=None) -> tuple:
    """``(Program, Caller)``: a fresh pool of scenario ``scen`` and the tasks (each with
    its ``script[name]`` if a script is given, see :func:`task`)."""
    boot = variant(tag="")
    pool, handles = scen.make_pool(boot, cpus)
    caller = Caller()
    for key in sorted(handles):
        caller.add(handles[key])
    caller.unstored = set(handles)
    caller.pages = _initial_pages(scen, pool)
    ops = menu(variant)
    tasks = []
    for name, cpu in task_names(cpus, workers):
        zs = variant(pool, cpu, f"{name}.")
        mine = None if script is None else script.get(name, [])
        tasks.append(Task(functools.partial(task, zs, caller, name, ops, mine), name, cpu, "caller"))
    return Program(tasks, cpus=cpus, observe=pool.snapshot, context=pool,
                   name=f"{scen.name} (stateful)"), caller


def make_build(variant, scenario: str, cpus: int | None = None, workers: int = 2, script=None):
    """``(build, params)`` as :func:`model.registry.make_build` returns them, for this program.

    ``script``: ``{task name: [[operation, argument], ...]}``, the operations each
    task performs (None: whatever its ``choose`` is answered, the state
    machine's live program).  ``build.caller`` is the :class:`Caller` of the
    program ``build()`` made last.
    """
    from .registry import describe_variant, find_scenario, variant_source
    from .versions import VERSIONS
    if not isinstance(variant, type) or not any(issubclass(variant, v) for v in VERSIONS.values()):
        raise UsageError(f"make_build needs a zsmalloc version class, got {variant!r}")
    scen = find_scenario(scenario)
    cpus = scen.default_cpus if cpus is None else cpus
    if not isinstance(cpus, int) or isinstance(cpus, bool) or cpus < 1:
        raise UsageError(f"cpus must be a positive integer, got {cpus!r}")
    if cpus > MAX_CPUS:     # a trace's cpus of 10**9 named 2*10**9 tasks (all memory)
        raise UsageError(f"cpus must be at most {MAX_CPUS} (as --cpus), got {cpus!r}")
    if not isinstance(workers, int) or isinstance(workers, bool) or not 1 <= workers <= len(LETTERS):
        raise UsageError(f"workers must be an integer in 1..{len(LETTERS)}, got {workers!r}")
    if script is not None:
        script = _check_script(script, variant, cpus, workers)
    spec, mutation = describe_variant(variant)
    params = {"format": PARAMS_FORMAT, "program": "stateful",
              "variant": spec, "mutation": mutation, "scenario": scen.name, "cpus": cpus,
              "workers": workers, "pool": scen.pool_params()}
    source = variant_source(variant)
    if source is not None:
        params["variant_file"] = source       # what --trust-variant checks (cli.trust)
    if script is not None:
        params["script"] = script

    def build():
        program, build.caller = build_program(variant, scen, cpus, workers, script)
        return program

    build.caller = None
    build.params = params
    build.loader = LOADER
    return build, params


def build_from_params(params: dict):
    """The trace loader: the build :func:`make_build` returned for ``params``."""
    from .registry import find_scenario, variant_for
    if not isinstance(params, dict):
        raise UsageError(f"model params must be a JSON object, got {type(params).__name__}")
    missing = [k for k in ("variant", "scenario", "cpus", "workers") if k not in params]
    if missing:
        raise UsageError(f"stateful program params lack {', '.join(missing)}")
    if params.get("format", PARAMS_FORMAT) != PARAMS_FORMAT:
        raise UsageError(f"stateful program params format {params.get('format')!r} is not {PARAMS_FORMAT}")
    cls = variant_for(params["variant"], params.get("mutation"))
    build, fresh = make_build(cls, params["scenario"], params["cpus"], params["workers"],
                              params.get("script"))
    if "pool" in params and params["pool"] != fresh["pool"]:
        raise UsageError(f"scenario {find_scenario(params['scenario']).name!r} has changed since "
                         "these params were recorded (its pool differs); replay with the zsmc "
                         "version that recorded them")
    return build


def _check_script(script, variant, cpus: int, workers: int) -> dict:
    """``script`` as ``{name: [[op, arg], ...]}`` of known tasks and operations, or UsageError."""
    names = dict(task_names(cpus, workers))
    ops = set(menu(variant))
    if not isinstance(script, dict):
        raise UsageError(f"a stateful program's script must be an object, got {type(script).__name__}")
    out = {}
    for name, steps in script.items():
        if name not in names:
            raise UsageError(f"the script names task {name!r}; the program has {', '.join(names)}")
        if not isinstance(steps, list) or not all(
                isinstance(s, (list, tuple)) and len(s) == 2 and s[0] in ops for s in steps):
            raise UsageError(f"task {name}'s script must be [operation, argument] pairs with "
                             f"operations among {', '.join(sorted(ops))}, got {steps!r}")
        out[name] = [list(s) for s in steps]
    return out
