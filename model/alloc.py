"""Allocation: zs_malloc and what it calls (zsmalloc-protocol.md section 2.1).

``class->lock`` alone excludes migration and compaction; no pool lock and no
zspage lock is taken.  The only points where the task may sleep are the two
allocations (handle and zspage), both outside every lock.

Allocations can fail, as in the kernel, where a scenario lets them
(``Scenario.alloc_failure``, :mod:`model.failure`): the handle
(``cache_alloc_handle``), the struct zspage (``cache_alloc_zspage``), each page of
the chain (``alloc_zpdesc``) and the migration core's new page (``get_new_folio``,
:mod:`model.migrate`).  Each asks :meth:`Allocation.should_fail`, the model's
fault injection (the kernel's failslab and fail_page_alloc go through
``should_fail()``); it is a choice only for a site the pool enables, and a site is
enabled only where every caller of the allocation tests its result (a function
written when the model never failed has no failure path to take).
"""

from __future__ import annotations

import inspect

from checker import Bug, ModelError, Obj, choose, label, might_sleep
from checker.coverage import op_object

from .pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE, Zspage, new_handle, new_page

ENOMEM = 12
# should_fail's choice: the allocation succeeds, or returns NULL
FAULT_CHOICE = ("alloc", "fail")


def IS_ERR_VALUE(value) -> bool:
    """``IS_ERR_VALUE``: ``value`` is an error code (``-MAX_ERRNO`` .. -1) returned in
    place of a handle (``zs_malloc``'s ``ERR_PTR(-ENOMEM)``)."""
    return isinstance(value, int) and not isinstance(value, bool) and -4095 <= value < 0


def _takes_a_name(method) -> bool:
    """Whether an ``alloc_zpdesc`` takes the fresh page's name (a variant's may predate it)."""
    try:
        return len(inspect.signature(method).parameters) >= 2
    except (TypeError, ValueError):
        return True


class Allocation:
    """zs_malloc, obj_malloc, alloc_zspage, SetZsPageMovable and the slab helpers."""

    def zs_malloc(self, size, key):
        """``zs_malloc`` (2.1): returns the new handle, its object recorded but not yet written,
        or ``-ENOMEM`` (the kernel's ``ERR_PTR(-ENOMEM)``) when an allocation fails.

        ``key`` names the handle for clients and labels (the kernel returns an
        address).  Steps: allocate the handle (may sleep; failure: ``-ENOMEM``);
        ``S(class)``; ``find_get_zspage``; if found ``obj_malloc``,
        ``fix_fullness_group``, ``OBJS_INUSE++``; else unlock, ``alloc_zspage`` (may
        sleep; failure: ``cache_free_handle``, ``-ENOMEM``), ``S(class)``,
        ``obj_malloc``, ``insert_zspage``, stats, ``SetZsPageMovable``; unlock.
        """
        handle = yield from self.cache_alloc_handle(key)
        if handle is None:
            return -ENOMEM
        cls = self.pool.class_for(size)
        yield cls.lock.acquire()
        yield label("zs_malloc")        # labels sit in atomic sections: no extra preemption point
        zspage = yield from self.find_get_zspage(cls)
        if zspage is not None:
            yield from self.obj_malloc(zspage, handle)
            yield from self.fix_fullness_group(cls, zspage)
            yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
            yield cls.lock.release()
            return handle
        yield cls.lock.release()

        zspage = yield from self.alloc_zspage(cls)
        if zspage is None:
            yield from self.cache_free_handle(handle)
            return -ENOMEM
        yield cls.lock.acquire()
        yield from self.obj_malloc(zspage, handle)
        newfg = self.get_fullness_group(cls, zspage)
        yield from self.insert_zspage(cls, zspage, newfg)
        self.pool.pages_allocated += cls.pages_per_zspage        # atomic_long_add
        yield from self.class_stat_add(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
        cls.ghost_zspages.append(zspage)
        yield from self.class_stat_add(cls, ZS_OBJS_INUSE, 1)
        yield from self.SetZsPageMovable(zspage)
        yield cls.lock.release()
        return handle

    def should_fail(self, site):
        """The kernel's fault injection (``should_fail()``, behind failslab and
        fail_page_alloc): True if this allocation at ``site`` (a key of
        :data:`model.failure.SITES`) returns NULL.  A choice only where the pool
        enables the site (:mod:`model.failure`); elsewhere no step at all, so a
        scenario without failures explores what it always did."""
        if site not in self.pool.may_fail:
            return False
        return (yield choose(FAULT_CHOICE)) == "fail"

    def cache_alloc_handle(self, key):
        """``cache_alloc_handle``: a handle from the pool's kmem_cache (may sleep with the gfp
        used), or None.  (protocol §2.1 step 2)  Where allocations may fail, the handle is
        followed by the slab-leak check from here: a failed ``zs_malloc`` must free it."""
        yield might_sleep()
        if (yield from self.should_fail("handle")):
            return None
        handle = new_handle(key)
        if self.pool.may_fail:
            self.pool.ghost_slabs.append(handle)
        return handle

    def cache_free_handle(self, handle):
        """``cache_free_handle``: return the handle to its kmem_cache. (protocol §2.2 step 8)"""
        yield handle.obj.free()

    def obj_malloc(self, zspage, handle):
        """``obj_malloc``: pop ``freeobj``, write ``handle | OBJ_ALLOCATED_TAG`` in the header,
        ``inuse++``, ``record_obj``; returns the obj value (caller holds class->lock).
        (protocol §2.1 step 5)
        """
        cls = zspage.cls
        yield zspage.obj.access(marked=False)
        op_object(zspage)
        idx = zspage.freeobj
        if idx is None:
            raise Bug(f"obj_malloc: {zspage.name} has no free object (freelist corrupted)")
        page = zspage.first
        for _ in range(cls.geometry.location(idx)[0]):
            page = yield from self.get_next_zpdesc(page)
        yield page.obj.access(write=True, marked=False)       # kmap_local: read link->next, write the header
        link = page.mem.get(("hdr", idx))
        if link is None or link[0] != "free":
            raise Bug(f"obj_malloc: object {idx} of {zspage.name} is not free (freelist corrupted)")
        page.mem[("hdr", idx)] = ("alloc", handle)
        yield zspage.obj.access(write=True, marked=False)     # set_freeobj, mod_zspage_inuse(+1)
        zspage.freeobj = link[1]
        zspage.inuse += 1
        obj = self.location_to_obj(page, idx)
        yield from self.record_obj(handle, obj)
        return obj

    def alloc_zspage(self, cls):
        """``alloc_zspage``: a new zspage with its chain and in-page free list (may sleep),
        or None.  (protocol §2.1 step 6)  ``cache_alloc_zspage`` (failure: None), then one
        ``alloc_zpdesc`` per page, each typed zsmalloc; when one fails, every page already
        taken is untyped (``__zpdesc_clear_zsmalloc``) and freed (``free_zpdesc``), the
        struct goes back to its cache (``cache_free_zspage``): None.  Then
        ``create_page_chain`` and ``init_zspage`` (plain: nobody else sees the zspage yet).
        With a :class:`~model.pool.Zone` its pages are frames other tasks can already see,
        else fresh pages nobody else can."""
        yield might_sleep()
        zspage = yield from self.cache_alloc_zspage(cls)
        if zspage is None:
            return None
        zpdescs = []
        zone = self.pool.zone
        for i in range(cls.pages_per_zspage):
            # A fresh page's name only where there is no zone: a variant's
            # alloc_zpdesc(self, zone), written when only a zone's frames came from it,
            # is not called for fresh pages, which the model made without it then.
            name = () if zone is not None else (f"{zspage.name}.p{i}",)
            if name and not _takes_a_name(self.alloc_zpdesc):
                zpdesc = yield from Allocation.alloc_zpdesc(self, None, *name)
            else:
                zpdesc = yield from self.alloc_zpdesc(zone, *name)
            if zpdesc is None:
                while zpdescs:              # while (--i >= 0)
                    page = zpdescs.pop()
                    yield from self._zpdesc_clear_zsmalloc(page)
                    yield from self.free_zpdesc(page)
                yield from self.cache_free_zspage(zspage)
                return None
            zpdescs.append(zpdesc)
        self.init_new_zspage(zspage, zpdescs)
        return zspage

    def cache_alloc_zspage(self, cls):
        """``cache_alloc_zspage``: the struct zspage from the pool's kmem_cache, magic, class
        and zspage lock set (plain: private to its creator), or None.  (protocol §2.1 step 6)
        The slab-leak check follows it from here."""
        if (yield from self.should_fail("zspage")):
            return None
        zspage = self.new_zspage_struct(cls)
        self.zspage_lock_init(zspage)
        return zspage

    def alloc_zpdesc(self, zone, name=None):
        """``alloc_zpdesc`` (``alloc_pages_node``; protocol §2.1 step 6), then
        ``__zpdesc_set_zsmalloc``; None when the page allocator fails.

        From a :class:`~model.pool.Zone`: take a free frame under ``zone->lock`` (a
        declared access alone would order two allocations for the search but
        synchronise nothing), then ``set_page_refcounted`` (its own step:
        ``folio_try_get`` of a scanner fails before it, succeeds after), then the page
        type (a declared write: a scanner's ``folio_put`` may test it).  A scenario gives
        as many frames as its zs_malloc calls can take.  Without a zone (``zone`` None):
        a fresh page ``name`` nobody else can see (plain).  Either way the page-leak end
        check follows it from here (``pool.ghost_pages``)."""
        if (yield from self.should_fail("zpdesc")):
            return None
        if zone is None:
            page = new_page(name)
            page.zsmalloc = True
            self.pool.ghost_pages.append(page)
            return page
        yield zone.lock.acquire()
        if not zone.free:
            raise ModelError("alloc_zpdesc: the zone has no free frame left; give the scenario "
                             "more frames (Scenario.frames)")
        page = zone.free.pop(0)
        yield zone.lock.release()
        yield page.ref.write(1)
        yield page.desc.access(write=True, marked=False)
        page.zsmalloc = True
        self.pool.ghost_pages.append(page)
        return page

    def _zpdesc_clear_zsmalloc(self, page):
        """``__zpdesc_clear_zsmalloc``: clear the page type before the page goes back to the
        page allocator (``free_pages_prepare`` finds a typed page in a bad state).  A
        declared write: a scanner may test the type of a zone's frame."""
        yield page.desc.access(write=True, marked=False)
        page.zsmalloc = False

    def free_zpdesc(self, page):
        """``free_zpdesc`` (``__free_page``): drop the allocation's reference; the page is
        freed (a page still typed zsmalloc or movable is "Bad page state",
        ``zpdesc_put``)."""
        yield from self.zpdesc_put(page)

    def new_zspage_struct(self, cls) -> Zspage:
        """The plain part of ``cache_alloc_zspage``: the struct, its magic and class,
        followed by the slab-leak check.  Names are per task (``self.tag``) so they do
        not depend on the interleaving."""
        self.made += 1
        name = f"{self.tag}zs{self.made}"
        zspage = Zspage(name, Obj(name), cls)
        if self.pool is not None:
            self.pool.ghost_slabs.append(zspage)
        return zspage

    def init_new_zspage(self, zspage, pages) -> None:
        """The plain end of ``alloc_zspage``: each page's ``first_obj_offset``,
        ``create_page_chain`` and ``init_zspage`` (every object on the free list)."""
        g = zspage.cls.geometry
        for i, page in enumerate(pages):
            page.first_objs = g.first_objs(i)
        self.create_page_chain_plain(zspage, pages)
        objs = g.objs_per_zspage
        for idx in range(objs):        # init_zspage: link every object into the free list
            page_no, _, spans = g.location(idx)
            pages[page_no].mem[("hdr", idx)] = ("free", idx + 1 if idx + 1 < objs else None)
            pages[page_no].mem[("data", idx)] = None
            if spans:
                pages[page_no + 1].mem[("data", idx)] = None
        zspage.freeobj = 0

    def new_zspage(self, cls, frames=None) -> Zspage:
        """A whole zspage at once, plain (no yields): for building a scenario's pool
        (``populate``), and for a variant's ``alloc_zspage`` written before the model's
        allocations could fail.  ``frames``: the pages to build it of (taken from the
        zone by ``alloc_zpdesc``), else fresh ones."""
        zspage = self.new_zspage_struct(cls)
        pages = []
        for i in range(cls.geometry.pages_per_zspage):
            if frames:
                page = frames[i]        # alloc_zpdesc set its type and follows it
            else:
                page = new_page(f"{zspage.name}.p{i}")
                page.zsmalloc = True
                if self.pool is not None:
                    self.pool.ghost_pages.append(page)
            pages.append(page)
        self.init_new_zspage(zspage, pages)
        self.zspage_lock_init(zspage)
        return zspage

    @staticmethod
    def create_page_chain_plain(zspage, pages):
        """``create_page_chain`` without declared accesses (for pages nobody else can see)."""
        for i, page in enumerate(pages):
            page.zspage = zspage
            page.next = pages[i + 1] if i + 1 < len(pages) else None
            page.first = i == 0
        zspage.first = pages[0]

    def SetZsPageMovable(self, zspage):
        """``SetZsPageMovable``: trylock each page (WARN if that fails), set movable, unlock.
        (protocol §2.1 step 7)"""
        page = yield from self.get_first_zpdesc(zspage)
        while page is not None:
            if not (yield from self.zpdesc_trylock(page)):
                raise Bug(f"SetZsPageMovable: WARN_ON(!zpdesc_trylock({page.name}))")
            yield page.desc.access(write=True, marked=False)
            page.movable = True
            yield from self.zpdesc_unlock(page)
            page = yield from self.get_next_zpdesc(page)
