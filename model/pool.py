"""Pool data: the zsmalloc structures as plain data (no yields).

The structures mirror ``mm/zsmalloc.c`` (zsmalloc-protocol.md "Terminology"
and section 1).  Everything here is built without yielding; the kernel
functions (the version classes) declare every access that another task can
race with, either because an engine lock orders it or through an action on
the object that owns the field (``Obj.access`` on a zspage or a page, a
``Var`` operation on a handle word, a refcount or the work-pending flag).

Sizes are in abstract *units*.  The default geometry is a page of 4 units and
one size class of 3-unit objects in zspages of 2 pages, so a zspage holds 2
objects: object 0 lies in page 0 and object 1 spans pages 0 and 1 (section
2.3, "object spans two pages").  Fullness groups are the kernel's
(``get_fullness_group``): with 2 objects a zspage is 0%, 50% or 100% full.

The structs are shared memory the engine sees (:func:`checker.shared_struct`,
:class:`checker.SharedList`, :class:`checker.SharedDict`): every field a
kernel function reads or writes is in the footprint of the step that does
it, whether or not the function also yields an explicit ``access``.  The
explicit accesses stay where the kernel touches the memory: they are the
points where another task may run, and they check that the memory is alive.

Ghost state (``ghost_*``) is model bookkeeping for the checks in
:mod:`model.invariants`; no kernel function reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

from checker import Obj, PageLock, RwLock, SharedDict, SharedList, SpinLock, Var, shared_struct

from .page_memory import install as install_page_memory

ZSPAGE_MAGIC = 0x58
# Fullness groups (enum fullness_group) and class stat indices (enum class_stat_type).
ZS_INUSE_RATIO_0 = 0
ZS_INUSE_RATIO_10 = 1
ZS_INUSE_RATIO_99 = 10
ZS_INUSE_RATIO_100 = 11
NR_FULLNESS_GROUPS = 12
ZS_OBJS_ALLOCATED = NR_FULLNESS_GROUPS
ZS_OBJS_INUSE = NR_FULLNESS_GROUPS + 1
NR_CLASS_STAT_TYPES = NR_FULLNESS_GROUPS + 2

# Where a zspage's ``list`` link is (besides a fullness group index):
DEFERRED = "deferred"   # spliced onto async_free_zspage's private free_pages list
FREEING = "freeing"     # unlinked by async_free_zspage, being locked and freed
# None: on no list (isolated by compaction, or not yet inserted).

# zs_map_object modes (enum zs_mapmode).
ZS_MM_RW, ZS_MM_RO, ZS_MM_WO = 0, 1, 2


@dataclass(slots=True, frozen=True)
class Geometry:
    """One size class's layout: object ``size``, ``pages_per_zspage``, ``page_size`` (units)."""

    size: int = 3
    pages_per_zspage: int = 2
    page_size: int = 4

    @property
    def objs_per_zspage(self) -> int:
        return self.pages_per_zspage * self.page_size // self.size

    def location(self, idx: int):
        """(page number in the chain, offset in that page, spans two pages) of object ``idx``."""
        start = idx * self.size
        off = start % self.page_size
        return start // self.page_size, off, off + self.size > self.page_size

    def first_objs(self, page_no: int) -> tuple:
        """The objects that start in page ``page_no`` (the model's ``first_obj_offset``)."""
        return tuple(i for i in range(self.objs_per_zspage) if self.location(i)[0] == page_no)

    def to_json(self) -> dict:
        return {"size": self.size, "pages_per_zspage": self.pages_per_zspage,
                "page_size": self.page_size}


@shared_struct(owner="obj", const=("key", "word", "obj"))
@dataclass(slots=True, eq=False)
class Handle:
    """A handle: the slab word holding the encoded location ``(Page, obj_idx)`` (0 when unset).

    ``key`` names it for clients and the data-integrity labels.  ``obj`` is the
    slab object (freed by ``cache_free_handle``).
    """

    key: str
    word: Var
    obj: Obj

    def __repr__(self) -> str:
        return self.key


@shared_struct(owner="desc", const=("name", "lock", "obj", "ref"), atomic=("movable", "isolated"),
               owners={"mem": "obj", "zspage": "chain", "next": "chain", "first": "chain",
                       "isolated": "flags"})
@dataclass(slots=True, eq=False)
class Page:
    """A physical page and its descriptor (``struct zpdesc`` over ``struct page``).

    ``obj`` is the page (its memory ``mem``: what mappers pin), freed when
    ``ref`` (the page refcount, a Var because ``get_page_unless_zero`` and
    ``put_page`` race) drops to 0.  ``desc`` stands for the descriptor's
    fields (``zspage``, ``next``, ``first_objs``, ``movable``, the page type):
    a separate footprint, so that a reader of object bytes is independent of
    a migration core that only touches the descriptor; like ``struct page``
    it is never freed.  ``chain`` is a part of it (``Obj.parts``) holding the
    chain words (``zspage``, ``next``, ``first``): ``create_page_chain`` and
    ``get_next_zpdesc`` declare only that part, so a put, whose footprint holds
    what ``free_pages_prepare`` reads (``movable``, the page type), is
    independent of a chain rewrite; ``desc.access()`` declares both, as it
    always did.  ``lock`` lives in the page: locking a freed page is a use
    after free.

    ``mem`` maps ``("hdr", idx)`` to the header word of an object starting in
    this page (``("alloc", Handle)`` or ``("free", next_free_idx)``) and
    ``("data", idx)`` to the part of object ``idx``'s contents in this page.
    """

    name: str
    lock: PageLock
    obj: Obj
    desc: Obj
    ref: Var
    chain: Obj
    flags: Obj
    zspage: object = None         # zpdesc->zspage; None once reset
    next: object = None           # zpdesc->next, the chain link
    first: bool = False           # is_first_zpdesc
    first_objs: tuple = ()        # stands for first_obj_offset
    movable: bool = False         # __zpdesc_set_movable / __ClearPageMovable
    zsmalloc: bool = False        # the page type (__zpdesc_set_zsmalloc)
    isolated: bool = False        # PG_isolated, owned by the migration core (atomic bitops)
    mem: SharedDict = field(default_factory=SharedDict)

    def __repr__(self) -> str:
        return self.name


install_page_memory(Page)


@shared_struct(owner="obj", const=("name", "obj", "cls", "zl"))
@dataclass(slots=True, eq=False)
class Zspage:
    """``struct zspage``: a chain of pages, its counters, list link and lock.

    ``list`` is the fullness group whose list holds it, :data:`DEFERRED`,
    :data:`FREEING` or None.  ``zl`` is the version's zspage lock (see
    :mod:`model.zspage_lock`).
    invariant: ``0 <= inuse <= objs_per_zspage``; ``magic == ZSPAGE_MAGIC`` while alive.
    """

    name: str
    obj: Obj
    cls: object
    first: Page | None = None
    inuse: int = 0
    freeobj: object = 0           # first free object index, None when full
    fullness: int = ZS_INUSE_RATIO_0
    list: object = None
    magic: int = ZSPAGE_MAGIC
    zl: object = None

    def __repr__(self) -> str:
        return self.name

    def pages(self) -> list:
        """The chain, for the checks and for building (outside any step: not a kernel path)."""
        out, p = [], self.first
        while p is not None and len(out) < 64:
            out.append(p)
            p = p.next
        return out


@shared_struct(owner="obj", const=("index", "geometry", "lock", "obj"), ghost=("ghost_zspages",))
@dataclass(slots=True, eq=False)
class SizeClass:
    """``struct size_class``: its lock, fullness lists and stats.

    ``obj`` stands for the struct's memory so list and stat updates are
    declared accesses.  ``fullness_list[fg][0]`` is the list head (``list_add``
    inserts there).  invariant (I6, when ``lock`` is free):
    ``stats[fg] == len(fullness_list[fg])`` (plus the zspages held by the
    free worker for fg 0), ``stats[ZS_OBJS_INUSE] == sum(inuse)``,
    ``stats[ZS_OBJS_ALLOCATED] == len(ghost_zspages) * objs_per_zspage``.
    """

    index: int
    geometry: Geometry
    lock: SpinLock
    obj: Obj
    fullness_list: SharedList = field(
        default_factory=lambda: SharedList(SharedList() for _ in range(NR_FULLNESS_GROUPS)))
    stats: SharedList = field(default_factory=lambda: SharedList([0] * NR_CLASS_STAT_TYPES))
    ghost_zspages: list = field(default_factory=list)   # every zspage counted in OBJS_ALLOCATED

    @property
    def size(self) -> int:
        return self.geometry.size

    @property
    def objs_per_zspage(self) -> int:
        return self.geometry.objs_per_zspage

    @property
    def pages_per_zspage(self) -> int:
        return self.geometry.pages_per_zspage


@dataclass(slots=True, eq=False, frozen=True)
class MapArea:
    """The per-CPU ``zs_map_area`` of legacy and v5: mapping mode and bounce buffer.

    Guarded by its ``local_lock`` (preempt_disable on !RT, a per-CPU sleeping
    lock on RT: :class:`checker.LocalLock`); Vars so that a second user of the
    same CPU's area races visibly (hazard 13).
    """

    cpu: int
    vm_mm: Var
    vm_buf: Var
    lock: object = None


@shared_struct(owner="obj", const=("obj", "free", "lock"))
@dataclass(slots=True, eq=False)
class Zone:
    """The page allocator's free frames (``zone->free_area``), for a scenario whose
    migration scans page frames before ``alloc_zspage`` takes them (protocol §2.1
    step 6, §2.5): ``free`` holds free :class:`Page` s (refcount 0, not zsmalloc's,
    not movable), taken under ``lock`` (``zone->lock``: a declared access alone
    would order two allocations for the search but synchronise nothing).  Frames
    are taken, never given back (a freed zspage's pages stay freed): enough for one
    ``zs_malloc`` racing with the scanner."""

    obj: Obj
    free: SharedList = field(default_factory=SharedList)
    lock: object = None


@shared_struct(owner="obj", const=("name", "lock", "size_class", "free_work", "compaction_in_progress",
                                   "map_area", "consistency_locks", "writer_trylock_locks",
                                   "writer_context_locks", "atomic_callers", "decode", "grouping",
                                   "zone", "initial_values", "lock_contended"),
               ghost=("ghost_handles", "ghost_values", "ghost_initially_empty", "ghost_pages",
                      "ghost_slabs", "ghost_given", "may_fail"),
               atomic=("pages_allocated",))
@dataclass(slots=True, eq=False)
class Pool:
    """``struct zs_pool`` plus what the properties need (``Program.context``).

    ``lock`` is ``pool->lock`` (``pool->migrate_lock`` in legacy).
    ``free_work`` is the work item's pending bit, ``deferred`` the async free
    worker's private ``free_pages`` list, ``pages_allocated`` the
    ``atomic_long_t`` page count.  ``map_area`` is indexed by CPU.
    ``consistency_locks`` and ``writer_trylock_locks`` are lock class names
    for the properties.  ``zone``: the page allocator's free frames when the
    scenario has any (:class:`Zone`), else None (``alloc_zspage`` makes fresh pages).
    """

    name: str
    lock: RwLock
    size_class: tuple
    free_work: Var
    compaction_in_progress: Var
    obj: Obj
    map_area: tuple = ()
    decode: object = None          # the version's obj_to_location, for the checks
    grouping: object = None        # the version's get_fullness_group, for the checks
    pages_allocated: int = 0
    deferred: SharedList = field(default_factory=SharedList)
    # State a patch adds (a static variable, a new field: keyed by name, and by the
    # zspage's name for a per-zspage one): shared memory the engine sees, where a
    # module global or a class attribute would be refused (model/hidden_state.py).
    extra: SharedDict = field(default_factory=SharedDict)
    consistency_locks: frozenset = frozenset({"class->lock"})
    writer_trylock_locks: frozenset = frozenset()
    writer_context_locks: frozenset = frozenset()
    # Kernel functions the pool's users may call from atomic context (a caller holding a
    # spinlock): sleep-in-atomic judges a sleep inside one as if that lock were held.
    atomic_callers: frozenset = frozenset()
    zone: Zone | None = None
    # Whether rwlock_is_contended(&pool->lock) answers true: another CPU always waits for
    # the pool lock (a scenario's choice, Scenario.pool_lock_contended; plain, const).
    lock_contended: bool = False
    # key -> what the object held when the scenario started (set by populate, plain
    # code): a client's first load is checked against it (model/roles.py)
    initial_values: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    ghost_handles: dict = field(default_factory=dict)   # key -> Handle, live per the clients
    ghost_values: dict = field(default_factory=dict)    # key -> last value stored
    # zspages the scenario starts empty: I7 judges what an execution leaves, not
    # the initial pool a scenario (or a single-operation test) chose
    ghost_initially_empty: set = field(default_factory=set)
    # every page made for the pool (a zspage's chain or a migration target), so that
    # the end check finds one that nothing references but that was never freed
    ghost_pages: list = field(default_factory=list)
    # every slab object made for the pool, for the slab-leak end check: each handle a client
    # was given or the scenario started with (the handle cache: recorded where ghost_handles
    # is, so a harness calling zs_malloc itself is not judged) and each struct zspage (the
    # zspage cache); by identity, in the order made
    ghost_slabs: list = field(default_factory=list)
    # the allocation sites that may fail (model.failure.SITES): the scenario's, less those
    # whose callers in the variant do not test the result; set by the build (plain)
    may_fail: frozenset = frozenset()
    # the keys of the handles a client was given (track_handle), for the leak check's words
    ghost_given: set = field(default_factory=set)

    def track_handle(self, h) -> None:
        """Follow handle ``h``, which a client now holds, in the checks: its object's value
        (data integrity) and its slab object (the leak check).  Plain (a ghost)."""
        self.ghost_handles[h.key] = h
        self.ghost_given.add(h.key)
        self.ghost_slabs.append(h)

    def class_for(self, size: int) -> SizeClass:
        """``get_size_class_index``: the smallest class that fits ``size`` units."""
        for c in self.size_class:
            if c.size >= size:
                return c
        return self.size_class[-1]

    def consistency_problems(self) -> list:
        from .invariants import consistency_problems
        return consistency_problems(self)

    def end_problems(self) -> list:
        from .invariants import end_problems
        return end_problems(self)

    def integrity_problems(self) -> list:
        from .invariants import integrity_problems
        return integrity_problems(self)

    def snapshot(self):
        from .invariants import snapshot
        return snapshot(self)


def get_fullness_group(cls: SizeClass, inuse: int) -> int:
    """``get_fullness_group``: 0 and 100 are exact, anything between maps to 10..99."""
    objs = cls.objs_per_zspage
    if inuse == 0:
        return ZS_INUSE_RATIO_0
    if inuse == objs:
        return ZS_INUSE_RATIO_100
    return (100 * inuse // objs) // 10 + 1


def new_page(name: str, ref: int = 1) -> Page:
    """A fresh page with refcount ``ref``; its lock class is lockdep-invisible (PageLock).

    The lock and the memory live in the page frame (``obj``, freed at refcount
    0); the refcount does not (``folio_try_get`` may look at a free page)."""
    frame = Obj(name)
    # The part has the descriptor's name: a step declaring it reads as the kernel's
    # line does (zpdesc->next), and a trace saved before the split replays.
    chain = Obj(name + ".zpdesc", permanent=True)
    flags = Obj(name + ".zpdesc", permanent=True)
    return Page(name, PageLock(name + ".lock", "page lock", owner=frame), frame,
                Obj(name + ".zpdesc", permanent=True, parts=(chain, flags)),
                Var(name + ".ref", ref, counter=True, keeps=frame), chain, flags)


def new_handle(key: str) -> Handle:
    """A handle: the location word lives in the handle's slab object."""
    obj = Obj("handle " + key)
    return Handle(key, Var(key, 0, owner=obj), obj)
