"""Scenarios: an initial pool plus tasks with roles on CPUs (ARCHITECTURE.md section 5).

The default pool has one size class (objects of 3 units, pages of 4, 2-page
zspages, so each zspage holds an in-page object 0 and a spanning object 1):

* ``zs1``: object 0 allocated to ``x.b`` (50%), a handle of another user that
  no task touches but compaction and migration may move; object 1 free;
* ``zs2``: object 0 free, object 1 (the spanning one) allocated to ``c0.a``,
  the first client's (50%);
* ``zs3``: empty, on the 0% list, with the free work pending (section 2.6).

Two 50% zspages make compaction move an object and free its source: ``zs1``
heads the 50% list, so it is the destination and ``zs2`` the source, and the
client's object is the one that moves (its reader holds the zspage lock the
compactor trylocks).  The empty zspage is what the deferred-free worker frees
(and what ``zs_malloc`` may reuse).
``malloc-migrate`` adds two free page frames (``Scenario.frames``, a
:class:`model.pool.Zone`) that ``alloc_zspage`` takes, and aims migration at
the first: the scanner meets a page ``zs_malloc`` is building (section 2.1
steps 6-7, section 2.5).
The three-page scenarios (``WIDE_GEOMETRY``: four objects, the third starting
in the middle page) reach what two-page zspages cannot: a middle page migrated
(``migrate-middle``), ``lock_zspage`` retrying past a second page
(``free-deferred-wide``).
Tasks on one CPU interleave only where they are preemptible, so the one-CPU
scenarios reach the preemption hazards (a reader spinning on a writer that
was preempted on its own CPU, hazard 14 of section 4); the two-CPU ones
reach the lock-order and free/use races.  Every two-task race runs on both:
``Scenario.cpu_counts`` lists the CPU counts a check explores by default.

Together the default scenarios run every kernel function of every version
and every pair of operation families (an object access, malloc, free,
compaction, page migration, the free worker) at the same time in two tasks,
on two CPUs and on one; ``tests/model/test_model_coverage.py`` asserts it
from the engine's own record (:mod:`model.coverage`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from checker import Program, Task
from checker.config import kernel_config

from . import failure, hidden_state, roles
from .coverage import instrumented
from .pool import Geometry

DEFAULT_POOL = (("x.b", None), (None, "c0.a"), (None, None))
DEFAULT_GEOMETRY = Geometry()
# Four objects on three pages (in-page, spanning, spanning, in-page): compaction
# walks a source's pages and a destination can take more than one object.
WIDE_GEOMETRY = Geometry(3, 3, 4)
# One page per zspage, two objects in it (none spans): most of the kernel's size classes.
SINGLE_PAGE_GEOMETRY = Geometry(2, 1, 4)


@dataclass(slots=True, frozen=True)
class TaskSpec:
    """One task of a scenario: ``role`` (client, compaction, migration, worker), its
    CPU ``slot`` (the CPU is ``slot % cpus``), the handles a client ``owns``, the
    object API a client prefers (``api``: "obj"/"map", else the version's first)
    and the pages a migration task may pick (``targets``), migrated in ``mode``
    ``"sync"`` (``MIGRATE_SYNC``: the core sleeps for the page lock) or
    ``"async"`` (``MIGRATE_ASYNC``: it trylocks the page and puts it back on
    failure)."""

    role: str
    name: str
    slot: int = 0
    owns: tuple = ()
    api: str | None = None
    targets: tuple = ()
    ops: tuple = roles.CLIENT_OPS
    mode: str = "sync"


@dataclass(slots=True, frozen=True)
class Scenario:
    """A named scenario: ``tasks`` over the initial ``pool`` (slot lists, see
    :meth:`model.versions.Zsmalloc.populate`).  ``default``: run by ``zsmc check``
    when no scenario is named.  ``review``: run as well, at depth 1, by the check
    of a patch (a variant from a file or module) when no scenario is named, and by
    ``zsmc check --review`` (tens of seconds each: too slow for every check, too
    rich in combined roles to leave to a reviewer's memory).  ``cpu_counts``: the
    CPU counts a check explores when ``--cpus`` is not given (default:
    ``default_cpus`` only); the first is the scenario's CPU count for the API
    (``make_build(cpus=None)``)."""

    name: str
    description: str
    min_cpus: int
    default_cpus: int
    tasks: tuple
    pool: tuple = DEFAULT_POOL
    free_work_pending: bool = True
    geometry: Geometry = DEFAULT_GEOMETRY
    default: bool = True
    cpu_counts: tuple = ()
    review: bool = False
    frames: int = 0         # free page frames alloc_zspage takes (model.pool.Zone)
    # Size classes after the clients' one, larger, as ``((Geometry, zspage slot lists), ...)``
    # (``pool.size_class[]`` ascends): a pool with several classes, each with its own lock.
    more_classes: tuple = ()
    # Allocation sites that may fail (model.failure.SITES), for a variant that tests their
    # results (model.failure.enabled_sites): should_fail() is a choice there.
    alloc_failure: tuple = ()
    # Whether pool->lock is always contended: rwlock_is_contended() answers true
    # (model.compact), so __zs_compact drops its locks after every source.
    pool_lock_contended: bool = False

    @property
    def counts(self) -> tuple:
        """The CPU counts a check explores by default."""
        return self.cpu_counts or (self.default_cpus,)

    def task_params(self, version, cpus: int) -> list:
        """The tasks as JSON-able dicts: name, role, CPU and role parameters."""
        out = []
        for t in self.tasks:
            d = {"name": t.name, "role": t.role, "cpu": t.slot % cpus}
            if t.role == "client":
                d["api"] = client_api(version, t.api)
                d["owns"] = list(t.owns)
                d["ops"] = list(t.ops)
            if t.role == "migration":
                d["targets"] = list(t.targets)
                if t.mode != "sync":
                    d["mode"] = t.mode
            if t.name in getattr(version, "IRQ_CLIENTS", ()):
                d["irq"] = "hard"
            out.append(d)
        return out

    def make_pool(self, boot, cpus: int):
        """``(pool, {key: Handle})``: the initial pool, built by ``boot`` (plain code)."""
        # frames only where there are some: a patch's zs_create_pool of the old signature
        # still builds every other scenario
        frames = {"frames": self.frames} if self.frames else {}
        more = tuple(g for g, _ in self.more_classes)
        pool = boot.zs_create_pool(geometries=(self.geometry,) + more, ncpus=cpus, **frames)
        handles = boot.populate([list(z) for z in self.pool])
        for i, (_, zspages) in enumerate(self.more_classes, 1):
            handles.update(boot.populate([list(z) for z in zspages], class_index=i))
        pool.free_work.value = pool.free_work.initial = self.free_work_pending
        pool.lock_contended = self.pool_lock_contended
        return pool, handles

    def pool_params(self) -> dict:
        params = {"geometry": self.geometry.to_json(), "zspages": [list(z) for z in self.pool],
                  "free_work_pending": self.free_work_pending}
        if self.frames:         # absent when 0: older params stay valid
            params["frames"] = self.frames
        if self.alloc_failure:    # absent when none: older params stay valid
            params["alloc_failure"] = list(self.alloc_failure)
        if self.pool_lock_contended:    # absent when false: older params stay valid
            params["pool_lock_contended"] = True
        if self.more_classes:
            params["more_classes"] = [{"geometry": g.to_json(), "zspages": [list(z) for z in zs]}
                                      for g, zs in self.more_classes]
        return params


def client_api(version, preferred):
    apis = version.APIS
    return preferred if preferred in apis else apis[0]


def _client(name="client0", slot=0, owns=("c0.a",), api=None, ops=roles.CLIENT_OPS):
    return TaskSpec("client", name, slot, owns=owns, api=api, ops=ops)


_COMPACT = TaskSpec("compaction", "compaction", 1)
_READER = roles.READER_OPS
_READ_ONLY = ("read",)
_ZS2_PAGES = ("zs2.p0", "zs2.p1")
_ZS3_PAGES = ("zs3.p0", "zs3.p1")
_FRAMES = ("frame0",)     # the page frame alloc_zspage takes first (Scenario.frames)
_BOTH = (2, 1)          # a two-CPU race and its one-CPU counterpart
_WORKER = TaskSpec("worker", "worker", 1)


def _four_roles(name, reader, migration, compaction, freer, layout):
    """Issue 18's four roles: a reader (``zs_obj_write`` or ``zs_obj_read_begin``/
    ``_end`` of its handle), migration of a page of the reader's zspage,
    compaction, and a client freeing another object; the slots put two roles
    on each CPU at the default two CPUs (``--cpus 4``: one each; ``--cpus 1``:
    all on one)."""
    return Scenario(name, f"two CPUs, two roles each ({layout}): a reader of its object, migration "
                    "of a page of its zspage, compaction, a client freeing another object", 1, 2,
                    (_client("reader", reader, api="obj", ops=_READER),
                     TaskSpec("migration", "migration", migration, targets=("zs2.p0",)),
                     TaskSpec("compaction", "compaction", compaction),
                     _client("freer", freer, owns=("x.b",), ops=("free",))),
                    default=False, review=True)

SCENARIOS = {s.name: s for s in (
    Scenario("smoke", "one CPU: a reader and compaction (fast; for tests)", 1, 1,
             (_client(ops=_READER), _COMPACT), pool=(("x.b", None), (None, "c0.a")),
             free_work_pending=False, default=False),
    Scenario("up-read-compact", "one CPU: a reader preempted while compaction tries to move its "
             "object", 1, 1, (_client(ops=_READ_ONLY), _COMPACT)),
    Scenario("up-read-migrate", "one CPU: a reader (map API where the version has it) and the "
             "migration of its zspage's pages", 1, 1,
             (_client(api="map", ops=_READ_ONLY), TaskSpec("migration", "migration", 1, targets=("zs2.p0",))),
             pool=(("x.b", None), ("c0.a", None), (None, None))),
    Scenario("up-clients", "one CPU: a writer and a reader of spanning objects (through the map "
             "API's per-CPU area where the version has it)", 1, 1,
             (_client(api="map", ops=_READER),
              _client("client1", 1, owns=("c1.b",), api="map", ops=_READ_ONLY)),
             pool=((None, "c0.a"), (None, "c1.b")), free_work_pending=False),
    Scenario("irq-read-migrate", "one CPU: a reader of an object of the zspage whose page "
             "migration moves (a hard interrupt handler where the caller reads from one: "
             "hazard 20)", 1, 1,
             (_client("irqreader", ops=_READ_ONLY), TaskSpec("migration", "migration", 0, targets=("zs2.p0",))),
             pool=(("x.b", None), ("c0.a", None), (None, None)), free_work_pending=False, default=False),
    Scenario("read-compact", "a client against compaction", 1, 2, (_client(), _COMPACT),
             cpu_counts=_BOTH),
    Scenario("read-migrate", "a client against migration of its zspage's pages", 1, 2,
             (_client(api="map"), TaskSpec("migration", "migration", 1, targets=_ZS2_PAGES)),
             cpu_counts=_BOTH),
    Scenario("write-migrate", "a writer (zs_obj_write) against migration of a page of its "
             "zspage on two CPUs: the zspage lock alone orders them (hazard 16, under "
             "--memory-model ra)", 2, 2,
             (_client(api="obj", ops=("write",)), TaskSpec("migration", "migration", 1, targets=("zs2.p0",))),
             free_work_pending=False, default=False),
    Scenario("free-deferred", "the deferred-free worker against migration of the "
             "empty zspage's pages", 1, 2,
             (TaskSpec("worker", "worker", 0), TaskSpec("migration", "migration", 1, targets=_ZS3_PAGES)),
             cpu_counts=_BOTH),
    Scenario("free-deferred-wide", "the deferred-free worker against migration of the third "
             "page of an empty three-page zspage: lock_zspage, holding the first two page locks, "
             "sleeps on the third and retries from the last page it locked (section 2.6)", 1, 2,
             (TaskSpec("worker", "worker", 0), TaskSpec("migration", "migration", 1, targets=("zs1.p2",))),
             pool=((None, None, None, None),), geometry=WIDE_GEOMETRY, cpu_counts=_BOTH),
    Scenario("free-migrate", "a client freeing the only object of a zspage whose pages "
             "migration locks (free_zspage's trylock fails: the deferred free, I7)", 1, 2,
             (_client(), TaskSpec("migration", "migration", 1, targets=_ZS2_PAGES)),
             pool=(("x.b", None), (None, "c0.a")), free_work_pending=False, cpu_counts=_BOTH),
    Scenario("clients", "a client and a reader sharing a zspage; allocation reuses the "
             "empty one", 1, 2,
             (_client(), _client("client1", 1, owns=("c1.b",), api="map", ops=_READ_ONLY)),
             pool=(("c1.b", "c0.a"), (None, None)), cpu_counts=_BOTH),
    Scenario("malloc-free", "two clients allocating and freeing in a full pool: zs_malloc "
             "allocates a zspage (alloc_zspage, SetZsPageMovable) while the other frees", 1, 2,
             (_client(ops=("malloc", "free")),
              _client("client1", 1, owns=("c1.b",), ops=("malloc", "free"))),
             pool=(("c1.b", "c0.a"),), free_work_pending=False, cpu_counts=_BOTH),
    Scenario("malloc-migrate", "zs_malloc building a zspage from free page frames while "
             "migration scans the first: isolate_movable_page finds it free, not yet movable, then "
             "movable (SetZsPageMovable's window, section 2.1 step 7)", 1, 2,
             (_client(ops=("malloc",)), TaskSpec("migration", "migration", 1, targets=_FRAMES)),
             pool=(("x.b", "c0.a"),), free_work_pending=False, frames=2, cpu_counts=_BOTH),
    Scenario("clients-worker", "a client against the deferred-free worker freeing the empty "
             "zspage that zs_malloc may reuse", 1, 2, (_client(), _WORKER), cpu_counts=_BOTH),
    # Red team round 7: every pair of operations that can meet on one zspage must meet on one
    # in some default scenario (model.coverage's ``same:`` record, tests/model/
    # test_model_coverage.py).  Before these two, zs_malloc only ever reused a half-full zspage
    # nobody else was working on: in read-migrate and clients-worker it takes zs1, while
    # migration moves zs2's pages and the worker frees zs3.
    Scenario("malloc-reuse-migrate", "zs_malloc allocating in the only zspage with a free slot "
             "while migration moves the page that holds the slot's header (section 2.1 step 5 "
             "against section 2.5 steps 6-7)", 1, 2,
             (_client(owns=(), ops=("malloc",)), TaskSpec("migration", "migration", 1, targets=("zs1.p0",))),
             pool=(("x.b", None),), free_work_pending=False, cpu_counts=_BOTH),
    Scenario("malloc-reuse-worker", "zs_malloc reusing the empty zspage awaiting the deferred "
             "free (the only one with a free slot) while the worker frees it (section 2.1 step 4 "
             "against section 2.6 step 1)", 1, 2,
             (_client(ops=("malloc",)), _WORKER),
             pool=(("x.b", "c0.a"), (None, None)), cpu_counts=_BOTH),
    Scenario("two-classes", "the deferred-free worker, facing a backlog of two empty zspages "
             "(it splices the whole 0% list) and a deferred free in a second, larger size class "
             "(an empty zspage on its 0% list), against a client freeing an object of that class: "
             "each class's lists change under its own class->lock only, and one run of the work "
             "frees the empty zspages of every class (section 2.6 step 1 splices class by class)",
             1, 2, (_client(ops=("free",)), _WORKER), pool=((None, None), (None, None)),
             more_classes=((WIDE_GEOMETRY, (("c0.a", None, None, None), (None, None, None, None))),),
             cpu_counts=_BOTH),
    Scenario("compact-migrate", "compaction moving an object out of a zspage while migration "
             "(MIGRATE_ASYNC: it puts the page back when its trylock fails) moves its pages", 1, 2,
             (TaskSpec("migration", "migration", 0, targets=_ZS2_PAGES, mode="async"), _COMPACT),
             free_work_pending=False, cpu_counts=_BOTH),
    Scenario("compact-worker", "compaction freeing a zspage while the worker frees the empty one",
             1, 2, (TaskSpec("worker", "worker", 0), _COMPACT), cpu_counts=_BOTH),
    Scenario("compact-compact", "two compactions: one bails out on compaction_in_progress", 1, 2,
             (TaskSpec("compaction", "compaction0", 0), TaskSpec("compaction", "compaction1", 1)),
             free_work_pending=False, cpu_counts=_BOTH),
    Scenario("compact-wide", "wider zspages (four objects on three pages): a client allocating "
             "past a zspage's first page while compaction moves its object from a source's third "
             "page into a destination that stays partly free (the compaction loop's "
             "rwlock_is_contended question)", 1, 2,
             (_client(ops=("malloc", "read")), _COMPACT),
             pool=(("x.b", "x.c", None, None), (None, None, "c0.a", None)), free_work_pending=False,
             geometry=WIDE_GEOMETRY, cpu_counts=_BOTH),
    Scenario("compact-partial", "compaction of two size classes against a reader: in the "
             "larger, one migrate_zspage moves two objects (across the source's pages); in "
             "the reader's, the source holds more objects than its destination has room for, "
             "so migrate_zspage stops on a full dst with src not empty, both are put back "
             "across the resched block and a second round empties src (section 2.4 d, f-h)", 1, 2,
             (_client(ops=("read",)), _COMPACT),
             pool=(("x.a", "x.b", "x.c", None), ("x.d", "x.e", "x.f", None), ("x.g", "c0.a", None, None)),
             more_classes=((Geometry(4, 4, 4), (("y.a", "y.b", None, None), ("y.c", "y.d", None, None))),),
             free_work_pending=False, geometry=WIDE_GEOMETRY, cpu_counts=_BOTH),
    # Red team round 7: rwlock_is_contended() is false elsewhere, so no scenario ran what a
    # patch changes in the contended branch of __zs_compact's resched block.
    Scenario("compact-contended", "compact-wide with pool->lock always contended "
             "(rwlock_is_contended): after every source the resched block puts back a destination "
             "that is still partly free, drops both locks, and the next round isolates again "
             "(section 2.4 h)", 1, 2,
             (_client(ops=("malloc", "read")), _COMPACT),
             pool=(("x.b", "x.c", None, None), (None, None, "c0.a", None)), free_work_pending=False,
             geometry=WIDE_GEOMETRY, cpu_counts=_BOTH, pool_lock_contended=True),
    Scenario("migrate-full", "migration of a page in which two allocated objects start, "
             "against a reader of the second (which spans into the next page): every handle "
             "of the page is rewritten (section 2.5 step 7)", 1, 2,
             (_client(ops=("read",)), TaskSpec("migration", "migration", 1, targets=("zs2.p0",))),
             pool=(("x.b", None), ("x.c", "c0.a"), (None, None)), free_work_pending=False,
             cpu_counts=_BOTH),
    Scenario("migrate-middle", "migration of the middle page of a three-page zspage against a "
             "client reading or freeing the object that starts in it (and spans into the last "
             "page): replace_sub_page relinks a page with neighbours on both sides, and the handle "
             "rewrite names an object that starts in a page other than the first (section 2.5 "
             "steps 7-8)", 1, 2,
             (_client(ops=("read", "free")), TaskSpec("migration", "migration", 1, targets=("zs1.p1",))),
             pool=(("x.b", None, "c0.a", None),), free_work_pending=False,
             geometry=WIDE_GEOMETRY, cpu_counts=_BOTH),
    Scenario("migrate-single", "migration of the only page of a one-page zspage (most size "
             "classes have one-page zspages) against a client reading or freeing an object in it: "
             "replace_sub_page relinks a chain of one page, first and last at once, and a free "
             "that empties the zspage finds that page locked (section 2.5 step 8, section 2.2 step 7)",
             1, 2,
             (_client(ops=("read", "free")), TaskSpec("migration", "migration", 1, targets=("zs1.p0",))),
             pool=(("x.b", "c0.a"),), free_work_pending=False,
             geometry=SINGLE_PAGE_GEOMETRY, cpu_counts=_BOTH),
    Scenario("migrate-migrate", "two migrations of pages of one zspage: an asynchronous one puts "
             "its page back when the other holds its lock", 1, 2,
             (TaskSpec("migration", "migration0", 0, targets=("zs2.p0",), mode="async"),
              TaskSpec("migration", "migration1", 1, targets=_ZS2_PAGES)),
             free_work_pending=False, cpu_counts=_BOTH),
    # Allocation failure (model.failure): review scenarios, run at depth 1 by a patch's check,
    # where a patch's failure paths run; not default (the built-in versions' failure paths
    # are the kernel's, and the default set's counts stay what they were).
    Scenario("malloc-nomem", "two clients allocating and freeing in a full pool while every "
             "allocation may fail: zs_malloc's -ENOMEM paths (no handle; no struct zspage; no first "
             "or second page, the pages already taken untyped and freed, the handle freed), "
             "against the other client's free (section 2.1 steps 2 and 6)", 1, 2,
             (_client(ops=("malloc", "free")),
              _client("client1", 1, owns=("c1.b",), ops=("malloc", "free"))),
             pool=(("c1.b", "c0.a"),), free_work_pending=False, cpu_counts=_BOTH,
             alloc_failure=("handle", "zspage", "zpdesc"), default=False, review=True),
    Scenario("malloc-nomem-migrate", "zs_malloc building a zspage from free page frames, "
             "its second page failing, while migration scans the first frame: the page "
             "alloc_zspage took and gives back is a frame the scanner may hold (section 2.1 "
             "step 6, section 2.5)", 1, 2,
             (_client(ops=("malloc",)), TaskSpec("migration", "migration", 1, targets=_FRAMES)),
             pool=(("x.b", "c0.a"),), free_work_pending=False, frames=2, cpu_counts=_BOTH,
             alloc_failure=("zpdesc",), default=False, review=True),
    Scenario("migrate-nomem", "migration with no new page to be had (get_new_folio fails: "
             "the core puts the isolated page back, putback_movable_pages and zs_page_putback) "
             "against a client reading or freeing the only object of the zspage", 1, 2,
             (_client(ops=("read", "free")), TaskSpec("migration", "migration", 1, targets=_ZS2_PAGES)),
             pool=(("x.b", None), (None, "c0.a")), free_work_pending=False, cpu_counts=_BOTH,
             alloc_failure=("newpage",), default=False, review=True),
    _four_roles("mixed-a", 0, 2, 1, 3, "reader and migration on CPU 0, compaction and freer on CPU 1"),
    _four_roles("mixed-b", 0, 1, 2, 3, "reader and compaction on CPU 0, migration and freer on CPU 1"),
    # Red team round 5: a patch that keeps state in zs_page_isolate/zs_page_putback (5.17-6.8's
    # zspage->isolated, pre-5.17's list isolation) races only when one page of a zspage is put
    # back while another is isolated; with two migrations that takes depth 2 (about 3,400
    # executions on 2 CPUs), here depth 1 (about 700 on one CPU, upstream).  Too slow for the
    # default set, where the built-in callbacks keep no such state.
    Scenario("migrate-neighbours", "one CPU, three migrations of the pages of one zspage: an "
             "asynchronous one puts its page back (another holds the page lock) while a third "
             "isolates the neighbouring page (state zs_page_isolate and zs_page_putback keep, "
             "as 5.17-6.8's zspage->isolated did, section 2.5 a)", 1, 1,
             (TaskSpec("migration", "migration0", 0, targets=("zs2.p0",), mode="async"),
              TaskSpec("migration", "migration1", 1, targets=("zs2.p0",)),
              TaskSpec("migration", "migration2", 2, targets=("zs2.p1",))),
             free_work_pending=False, default=False, review=True),
)}


def build_program(variant, scenario: Scenario, depth: int, cpus: int, config=None,
                  memory_model=None) -> Program:
    """A fresh Program for one execution: a new pool, one version object per task
    (of the variant with its kernel functions traced, :mod:`model.coverage`), on the
    kernel configuration ``config`` (:mod:`checker.config`: None or "default", "rt") and
    memory model ``memory_model`` (:mod:`checker.memory_model`: None or "sc", "ra")."""
    hidden_state.check_build(variant)
    may_fail = failure.enabled_sites(variant, scenario.alloc_failure)
    variant = instrumented(variant)
    boot = variant(tag="")
    with kernel_config(config):
        pool, handles = scenario.make_pool(boot, cpus)
    pool.may_fail = may_fail
    pages = {p.name: p for cls in pool.size_class for z in cls.ghost_zspages for p in z.pages()}
    if pool.zone is not None:
        pages.update((p.name, p) for p in pool.zone.free)
    tasks = []
    for t in scenario.tasks:
        cpu = t.slot % cpus
        tag = f"{t.name}."
        zs = variant(pool, cpu, tag)
        if t.role == "client":
            fn = functools.partial(roles.client, zs, depth, tuple(handles[k] for k in t.owns),
                                   client_api(variant, t.api), t.name, t.ops)
        elif t.role == "compaction":
            fn = functools.partial(roles.compaction, zs, depth)
        elif t.role == "migration":
            fn = functools.partial(roles.migration, zs, depth, tuple(pages[n] for n in t.targets),
                                   t.mode)
        elif t.role == "worker":
            fn = functools.partial(roles.worker, zs, depth)
        else:
            raise ValueError(f"scenario {scenario.name}: unknown role {t.role!r}")
        # A client the version's caller runs in hard interrupt context (hazard 20).
        irq = "hard" if t.name in getattr(variant, "IRQ_CLIENTS", ()) else None
        tasks.append(Task(fn, t.name, cpu, t.role, irq))
    return Program(tasks, cpus=cpus, observe=pool.snapshot, context=pool, name=scenario.name,
                   config=config, memory_model=memory_model)
