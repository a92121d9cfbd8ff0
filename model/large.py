"""The large-pool scenario family: several size classes, many zspages, many clients (issue 6).

The exhaustive search cannot finish on such pools; the samplers (``random``,
``pct``, the Hypothesis search; docs/sampling.md) run on them instead.  A
member is named ``large`` (the defaults) or ``large:classes=C,zspages=Z,
objects=O,tasks=T``:

* ``classes`` (1-4, default 2) size classes, in ascending size like the
  kernel's ``pool->size_class[]``, on 4-unit pages (see :data:`GEOMETRIES`):
  the clients' 3-unit objects (``zs_malloc`` of 2 units plus the handle
  header) always land in the 3-unit class, the others are reached through
  the objects placed in them, compaction (section 2.4 iterates every class),
  migration (2.5) and the deferred-free worker (2.6 splices every class's 0%
  list);
* ``zspages`` (2-16, default 3) zspages per class; the last one of the
  3-unit class is empty, on the 0% list with the free work pending (2.6), as
  ``zs3`` is in the small scenarios;
* ``objects`` (default ``tasks + 1``) live client objects, dealt round-robin
  to the clients and over the non-empty zspages (class-major within each
  zspage rank); a non-empty zspage that gets no client object holds one
  object of another user (``x.N``), so every class has partial zspages for
  compaction to merge;
* ``tasks`` (1-8, default 3) clients with every operation (malloc, write,
  read, free); even-numbered ones prefer the map API (the per-CPU area of
  section 2.3 where the version has it), odd-numbered ones the version's
  first API.

Plus compaction, page migration (over the pages of every zspage that holds a
client object, and of the empty one) and the deferred-free worker.  Over two
CPUs, client ``i`` runs on CPU ``i % 2``, migration on CPU 0, compaction and
the worker on CPU 1: each writer shares its CPU with clients, so the one-CPU
preemption hazards (section 4, hazards 13 and 14) stay reachable next to the
two-CPU races.  With one CPU everything shares it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from checker import UsageError

from . import roles
from .pool import Geometry
from .scenarios import Scenario, TaskSpec

NAME = "large"
# Geometries by preference: the clients' 3-unit class first (the default scenarios'
# in-page and spanning objects), then a 3-page chain of page-aligned objects, a
# one-page zspage, a one-page zspage of 4 small objects.  A pool takes the first
# ``classes`` of them, sorted by size.
GEOMETRIES = (Geometry(3, 2, 4), Geometry(4, 3, 4), Geometry(2, 1, 4), Geometry(1, 1, 4))
MALLOC_SIZE = roles.OBJECT_SIZE + 1
KEYS = ("classes", "zspages", "objects", "tasks")
LIMITS = {"classes": (1, len(GEOMETRIES)), "zspages": (2, 16), "tasks": (1, 8)}
DEFAULTS = {"classes": 2, "zspages": 3, "tasks": 3}       # objects: tasks + 1
SYNTAX = "large:classes=C,zspages=Z,objects=O,tasks=T"


@dataclass(slots=True, frozen=True)
class LargeScenario(Scenario):
    """A :class:`~model.scenarios.Scenario` whose pool has several size classes.

    ``classes``: per size class, ``(Geometry, zspage slot lists)`` as
    :meth:`model.versions.Zsmalloc.populate` takes them (``pool`` is unused,
    ``geometry`` is the class the clients allocate from).
    """

    classes: tuple = ()

    def make_pool(self, boot, cpus: int):
        """One class per geometry, each populated in turn (zspage names run on across classes)."""
        pool = boot.zs_create_pool(geometries=tuple(g for g, _ in self.classes), ncpus=cpus)
        handles = {}
        for i, (_, zspages) in enumerate(self.classes):
            handles.update(boot.populate([list(z) for z in zspages], class_index=i))
        pool.free_work.value = pool.free_work.initial = self.free_work_pending
        return pool, handles

    def pool_params(self) -> dict:
        return {"classes": [{"geometry": g.to_json(), "zspages": [list(z) for z in zs]}
                            for g, zs in self.classes],
                "free_work_pending": self.free_work_pending}


def capacity(classes: int, zspages: int) -> int:
    """Slots in the non-empty zspages: the most client objects such a pool holds."""
    return sum(g.objs_per_zspage for g in GEOMETRIES[:classes]) * zspages - GEOMETRIES[0].objs_per_zspage


def parse(name: str) -> dict:
    """The parameters named by ``name`` (``large`` or ``large:k=v,...``), defaults filled in."""
    head, sep, rest = name.partition(":")
    if head != NAME or (sep and not rest.strip()):
        raise UsageError(f"scenario {name!r}: write {NAME} or {SYNTAX}")
    given = {}
    for item in rest.split(",") if sep else ():
        key, eq, value = (s.strip() for s in item.partition("="))
        if key not in KEYS or not eq:
            raise UsageError(f"scenario {name!r}: {item.strip()!r} is not one of "
                             f"{', '.join(k + '=N' for k in KEYS)}")
        if key in given:
            raise UsageError(f"scenario {name!r}: {key} given twice")
        try:
            given[key] = int(value)
        except ValueError:
            raise UsageError(f"scenario {name!r}: {key} must be an integer, got {value!r}") from None
    p = {k: given.get(k, DEFAULTS.get(k)) for k in KEYS}
    for key, (lo, hi) in LIMITS.items():
        if not lo <= p[key] <= hi:
            raise UsageError(f"scenario {name!r}: {key} must be in {lo}..{hi}, got {p[key]}")
    if p["objects"] is None:
        p["objects"] = p["tasks"] + 1
    most = capacity(p["classes"], p["zspages"])
    if not 0 <= p["objects"] <= most:
        raise UsageError(f"scenario {name!r}: objects must be in 0..{most} for {p['classes']} "
                         f"class(es) of {p['zspages']} zspages, got {p['objects']}")
    return p


def canonical_name(p: dict) -> str:
    """``large`` for the defaults, else every parameter in :data:`KEYS` order (trace params)."""
    if p == {**DEFAULTS, "objects": DEFAULTS["tasks"] + 1}:
        return NAME
    return NAME + ":" + ",".join(f"{k}={p[k]}" for k in KEYS)


@functools.lru_cache(maxsize=64)
def large_scenario(name: str) -> LargeScenario:
    """The scenario ``name`` names; UsageError (one line) for bad parameters."""
    p = parse(name)
    geometries = sorted(GEOMETRIES[:p["classes"]], key=lambda g: g.size)
    home = next(i for i, g in enumerate(geometries) if g.size >= MALLOC_SIZE)
    zspages = p["zspages"]
    layout = [[[None] * g.objs_per_zspage for _ in range(zspages)] for g in geometries]
    # Non-empty zspages, rank-major so consecutive objects go to different classes.
    spots = [(c, z) for z in range(zspages) for c in range(len(geometries))
             if not (c == home and z == zspages - 1)]
    clients = [f"client{i}" for i in range(p["tasks"])]
    owns = {c: [] for c in clients}
    slots_of = [(c, z, rank) for c, z in spots for rank in range(len(layout[c][z]))]
    slots_of.sort(key=lambda s: s[2])  # stable: rank by rank over the zspages, spread then fill
    for k in range(p["objects"]):
        c, z, rank = slots_of[k]
        slots = layout[c][z]
        idx = (z + 1 + rank) % len(slots)   # vary in-page and spanning objects
        slots[idx] = f"c{k % len(clients)}.o{k}"
        owns[clients[k % len(clients)]].append(slots[idx])
    others = 0
    for c, z in spots:
        slots = layout[c][z]
        if all(s is None for s in slots):
            others += 1
            slots[z % len(slots)] = f"x.{others}"
    tasks = [TaskSpec("client", n, i, owns=tuple(owns[n]), api="map" if i % 2 == 0 else None)
             for i, n in enumerate(clients)]
    tasks += [TaskSpec("compaction", "compaction", 1),
              TaskSpec("migration", "migration", 0, targets=_targets(geometries, layout)),
              TaskSpec("worker", "worker", 1)]
    classes = tuple((g, tuple(tuple(s) for s in zs)) for g, zs in zip(geometries, layout, strict=True))
    desc = (f"two CPUs, for the samplers: {p['classes']} size class(es) x {zspages} zspages, "
            f"{p['objects']} client objects over {p['tasks']} clients, compaction, migration, "
            f"the deferred-free worker (parameters: {SYNTAX})")
    return LargeScenario(canonical_name(p), desc, 1, 2, tuple(tasks), pool=(), free_work_pending=True,
                         geometry=geometries[home], default=False, classes=classes)


def _targets(geometries, layout) -> tuple:
    """Page names (``zsN.pI``, numbered in populate order) of the zspages that hold a client
    object or are empty: where migration races with a client or the worker."""
    out, n = [], 0
    for c, g in enumerate(geometries):
        for slots in layout[c]:
            n += 1
            if all(s is None for s in slots) or any(s and s.startswith("c") for s in slots):
                out.extend(f"zs{n}.p{i}" for i in range(g.pages_per_zspage))
    return tuple(out)


def is_large(name) -> bool:
    return isinstance(name, str) and (name == NAME or name.startswith(NAME + ":"))


def draws_pool(name) -> bool:
    """Whether a search that can draw the pool does so on scenario ``name``: on the
    family's own name, ``large`` (the Hypothesis search then draws the member and its
    CPUs, so a failure shrinks to a small pool); a member named by its parameters is
    that member."""
    return name == NAME


LARGE = large_scenario(NAME)


def draw_build(data, variant, depth: int):
    """``(build, params)`` of a family member Hypothesis draws (``data.draw``): classes
    1-3, zspages 2-4, clients 1-4, objects, and 1 or 2 CPUs.  ``zsmc check
    --scheduler hypothesis --scenario large`` draws the pool this way, so a
    failure shrinks to a small pool as well as a short schedule."""
    from hypothesis import strategies as st

    from .registry import make_build
    classes, zspages, tasks, cpus = data.draw(
        st.tuples(st.integers(1, 3), st.integers(2, 4), st.integers(1, 4), st.integers(1, 2)),
        label="classes, zspages, tasks, cpus")
    objects = min(data.draw(st.integers(0, tasks + 2), label="objects"), capacity(classes, zspages))
    name = f"{NAME}:classes={classes},zspages={zspages},objects={objects},tasks={tasks}"
    return make_build(variant, name, depth, cpus)
