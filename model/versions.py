"""The three protocol versions (zsmalloc-protocol.md section 1) as Python classes.

A version's methods are the kernel functions, named as in mm/zsmalloc.c
(a leading ``__`` becomes ``_``: Python would mangle it).  Each is a
generator; internal calls go through ``self``, so a subclass that overrides
one method (a mutation, or a reviewer's patch loaded with ``--variant
file.py:Class``) changes every caller.

An instance stands for one task's view of the pool, like ``current`` in the
kernel: ``self.pool`` is shared, ``self.cpu`` is the CPU the task is pinned
to (``this_cpu_ptr``), ``self.page_locks`` the page locks it holds and
``self.mapped`` its live object mappings.

* :class:`Upstream` (c, 6.15): spinlock + counter zspage lock, obj_read/obj_write only.
* :class:`V5` (b, v5 of Feb 2025): atomic-counter zspage lock; both the map
  API (per-CPU area) and the obj_read/obj_write API.
* :class:`Legacy` (a, 6.11-6.14): rwlock zspage lock taken blocking by
  writers (``migrate_write_lock``), map API only, ``pool->migrate_lock``.
"""

from __future__ import annotations

from types import MappingProxyType

from checker import Bug, LocalLock, Obj, RwLock, SharedList, SpinLock, Var, cond_resched, label

from .access import MapAccess, ObjAccess
from .alloc import Allocation
from .compact import Compaction
from .free import Freeing
from .fullness import Fullness
from .memory import Memory
from .migrate import MIGRATEPAGE_SUCCESS, Migration
from .pool import (
    ZS_INUSE_RATIO_0,
    ZS_INUSE_RATIO_100,
    ZS_OBJS_ALLOCATED,
    ZS_OBJS_INUSE,
    Geometry,
    MapArea,
    Pool,
    SizeClass,
    Zone,
    get_fullness_group,
    new_handle,
    new_page,
)
from .zspage_lock import ZSPAGE_LOCK_CLASS, AtomicCountLock, MigrateRwLock, SpinCountLock


class Zsmalloc(Memory, Fullness, Allocation, Freeing, Compaction, Migration):
    """What the versions share; not a version itself (it has no zspage lock).

    Class attributes a version sets: ``NAME``, ``POOL_LOCK`` (the pool
    rwlock's name), ``APIS`` (``"obj"`` and/or ``"map"``: the object-access
    APIs it has) and ``WRITER_TRYLOCK_LOCKS`` (lock classes whose write side
    must only be trylocked, for the writers-never-block property).
    ``IRQ_CLIENTS`` names the scenario clients its caller runs as hard interrupt
    handlers (none: zram calls zsmalloc from process context).  ``ATOMIC_CALLERS`` names
    the kernel functions its users may call from atomic context, holding a spinlock the
    scenarios' clients do not model: ``zs_free``, which zram calls from its slot-free
    notification under the swap code's spinlock (protocol §3 context rules, hazard 27);
    ``sleep-in-atomic`` reports a sleep inside one (red team round 5: a ``cond_resched()``
    at the end of ``zs_free`` passed).
    """

    NAME = "zsmalloc"
    POOL_LOCK = "pool->lock"
    APIS: tuple = ()
    WRITER_TRYLOCK_LOCKS: frozenset = frozenset()
    IRQ_CLIENTS: tuple = ()
    ATOMIC_CALLERS: frozenset = frozenset({"zs_free"})

    def __init__(self, pool=None, cpu: int = 0, tag: str = ""):
        self.pool = pool
        self.cpu = cpu
        self.tag = tag
        self.made = 0
        self.page_locks = []
        self.mapped = {}

    # -- building a pool (plain code, no yields) ---------------------------------
    def zs_create_pool(self, name: str = "zram0", geometries=None, ncpus: int = 1,
                       frames: int = 0) -> Pool:
        """``zs_create_pool``: the pool, its lock, one class per geometry (default: one
        :class:`~model.pool.Geometry`), the per-CPU areas; ``frames`` > 0: a
        :class:`~model.pool.Zone` of that many free page frames (``frame0``, ...) from
        which ``alloc_zspage`` takes its pages."""
        geometries = geometries or (Geometry(),)
        classes = []
        for i, g in enumerate(geometries):
            classes.append(SizeClass(i, g, SpinLock(f"class[{i}]->lock", "class->lock"),
                                     Obj(f"class[{i}]", permanent=True)))
        areas = ()
        if "map" in self.APIS:
            areas = tuple(MapArea(cpu, Var(f"zs_map_area[{cpu}].vm_mm", 0),
                                  Var(f"zs_map_area[{cpu}].vm_buf", None),
                                  LocalLock(f"zs_map_area[{cpu}].lock", "zs_map_area.lock"))
                          for cpu in range(ncpus))
        pool = Pool(name, RwLock(self.POOL_LOCK, self.POOL_LOCK), tuple(classes),
                    Var("free_work.pending", False), Var("compaction_in_progress", 0),
                    Obj(name, permanent=True), areas, decode=self.obj_to_location,
                    grouping=self.get_fullness_group,
                    writer_trylock_locks=frozenset(self.WRITER_TRYLOCK_LOCKS),
                    writer_context_locks=frozenset({self.POOL_LOCK} if self.WRITER_TRYLOCK_LOCKS
                                                   else ()),
                    atomic_callers=frozenset(self.ATOMIC_CALLERS),
                    zone=Zone(Obj("zone", permanent=True),
                              SharedList(new_page(f"frame{i}", ref=0) for i in range(frames)),
                              SpinLock("zone->lock"))
                    if frames else None)
        self.pool = pool
        return pool

    def populate(self, zspages, values=None, class_index: int = 0) -> dict:
        """Add zspages as if earlier operations had allocated them (plain, at build time).

        ``zspages`` is a list of slot lists: a handle key for an allocated
        object, None for a free one.  Zspages go on their fullness lists in
        the order given (the first is the list head); an empty one sits on the
        0% list, awaiting deferred free.  Objects hold ``values[key]``
        (default ``key + "=init"``).  Returns ``{key: Handle}``.
        """
        pool = self.pool
        cls = pool.size_class[class_index]
        g = cls.geometry
        handles = {}
        initial = dict(pool.initial_values)
        for slots in zspages:
            if len(slots) != g.objs_per_zspage:
                raise ValueError(f"a zspage of this class has {g.objs_per_zspage} objects, got {slots!r}")
            zspage = self.new_zspage(cls)
            pages = zspage.pages()
            free = [i for i, k in enumerate(slots) if k is None]
            for idx, key in enumerate(slots):
                page_no, _, spans = g.location(idx)
                page = pages[page_no]
                if key is None:
                    later = [i for i in free if i > idx]
                    page.mem[("hdr", idx)] = ("free", later[0] if later else None)
                    continue
                h = new_handle(key)
                h.word.value = h.word.initial = self.location_to_obj(page, idx)
                handles[key] = h
                value = (values or {}).get(key, f"{key}=init")
                page.mem[("hdr", idx)] = ("alloc", h)
                page.mem[("data", idx)] = value
                if spans:
                    pages[page_no + 1].mem[("data", idx)] = value
                pool.track_handle(h)
                pool.ghost_values[key] = value
                initial[key] = value
            zspage.freeobj = free[0] if free else None
            zspage.inuse = len(slots) - len(free)
            fg = self.get_fullness_group(cls, zspage)
            zspage.fullness = zspage.list = fg
            cls.fullness_list[fg].append(zspage)
            cls.stats[fg] += 1
            cls.stats[ZS_OBJS_ALLOCATED] += g.objs_per_zspage
            cls.stats[ZS_OBJS_INUSE] += zspage.inuse
            cls.ghost_zspages.append(zspage)
            pool.pages_allocated += g.pages_per_zspage
            for page in pages:
                page.movable = True
            if not zspage.inuse:
                pool.ghost_initially_empty.add(zspage.name)
        pool.initial_values = MappingProxyType(initial)
        return handles


class Upstream(SpinCountLock, ObjAccess, Zsmalloc):
    """Linux 6.15 (c): ``struct zspage_lock`` (spinlock + counter), obj_read/obj_write API,
    ``pool->lock`` rwlock; writers (migration, compaction) only trylock the zspage lock."""

    NAME = "upstream"
    POOL_LOCK = "pool->lock"
    APIS = ("obj",)
    WRITER_TRYLOCK_LOCKS = frozenset({ZSPAGE_LOCK_CLASS})


class V5(AtomicCountLock, MapAccess, ObjAccess, Zsmalloc):
    """v5 of "zsmalloc/zram: there be preemption" (12 Feb 2025, b): ``atomic_t`` zspage lock,
    readers spin and cmpxchg, the writer disables preemption and only trylocks; both the
    map API (per-CPU area, local_lock) and the obj_read/obj_write API."""

    NAME = "v5"
    POOL_LOCK = "pool->lock"
    APIS = ("obj", "map")
    WRITER_TRYLOCK_LOCKS = frozenset({ZSPAGE_LOCK_CLASS})


class Legacy(MigrateRwLock, MapAccess, Zsmalloc):
    """Linux 6.11-6.14 (a): ``rwlock_t`` zspage lock taken blocking by writers
    (``migrate_write_lock``), zs_map_object/zs_unmap_object with the per-CPU area and
    local_lock, ``pool->migrate_lock`` rwlock.  Writers block by design: readers are atomic."""

    NAME = "legacy"
    POOL_LOCK = "pool->migrate_lock"
    APIS = ("map",)
    WRITER_TRYLOCK_LOCKS = frozenset()

    def _zs_compact(self, cls):
        """``__zs_compact`` (2.4 a): as in (c) but step c is a blocking
        ``migrate_write_lock(src)`` that cannot fail."""
        pool = self.pool
        src = dst = None
        freed = 0
        yield pool.lock.acquire()
        yield cls.lock.acquire()
        yield label("__zs_compact")
        while (yield from self.zs_can_compact(cls)):
            if dst is None:
                dst = yield from self.isolate_dst_zspage(cls)
                if dst is None:
                    break
            src = yield from self.isolate_src_zspage(cls)
            if src is None:
                break
            yield from self.migrate_write_lock(src)
            yield from self.migrate_zspage(src, dst)
            yield from self.migrate_write_unlock(src)
            fg = yield from self.putback_zspage(cls, src)
            if fg == ZS_INUSE_RATIO_0:
                yield from self.free_zspage(cls, src)
                freed += cls.pages_per_zspage
            src = None
            yield dst.obj.access(marked=False)
            if (self.get_fullness_group(cls, dst) == ZS_INUSE_RATIO_100
                    or self.rwlock_is_contended(pool.lock)):
                yield from self.putback_zspage(cls, dst)
                dst = None
                yield cls.lock.release()
                yield pool.lock.release()
                yield cond_resched()
                yield pool.lock.acquire()
                yield cls.lock.acquire()
        if src is not None:
            yield from self.putback_zspage(cls, src)
        if dst is not None:
            yield from self.putback_zspage(cls, dst)
        yield cls.lock.release()
        yield pool.lock.release()
        return freed

    def zs_page_migrate(self, newpage, page):
        """``zs_page_migrate`` (2.5 a): tag newpage zsmalloc *before* any lock (it cannot
        fail); ``W(migrate_lock)``, ``S(class)``, blocking ``migrate_write_lock``; copy,
        rewrite handles, ``replace_sub_page``; unlock pool, class, zspage; put the old page."""
        yield page.desc.access(marked=False)
        if not page.isolated:
            raise Bug(f"zs_page_migrate: VM_BUG_ON_PAGE(!PageIsolated({page.name}))")
        yield newpage.desc.access(write=True, marked=False)
        newpage.zsmalloc = True
        zspage = yield from self.get_zspage(page)
        pool = self.pool
        yield pool.lock.acquire()
        yield label("zs_page_migrate")
        cls = zspage.cls
        yield cls.lock.acquire()
        yield from self.migrate_write_lock(zspage)
        yield from self.copy_page_and_rewrite_handles(newpage, page)
        yield from self.replace_sub_page(cls, zspage, newpage, page)
        yield pool.lock.release()
        yield cls.lock.release()
        yield from self.migrate_write_unlock(zspage)
        yield from self.zpdesc_get(newpage)
        yield from self.reset_zpdesc(page)
        yield from self.zpdesc_put(page)
        return MIGRATEPAGE_SUCCESS


VERSIONS = {"upstream": Upstream, "v5": V5, "legacy": Legacy}
