"""Allocation: zs_malloc and what it calls (zsmalloc-protocol.md section 2.1).

``class->lock`` alone excludes migration and compaction; no pool lock and no
zspage lock is taken.  The only points where the task may sleep are the two
allocations (handle and zspage), both outside every lock.
"""

from __future__ import annotations

from checker import Bug, ModelError, Obj, label, might_sleep

from .pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE, Zspage, new_handle, new_page


class Allocation:
    """zs_malloc, obj_malloc, alloc_zspage, SetZsPageMovable and the slab helpers."""

    def zs_malloc(self, size, key):
        """``zs_malloc`` (2.1): returns the new handle, its object recorded but not yet written.

        ``key`` names the handle for clients and labels (the kernel returns an
        address).  Steps: allocate the handle (may sleep); ``S(class)``;
        ``find_get_zspage``; if found ``obj_malloc``, ``fix_fullness_group``,
        ``OBJS_INUSE++``; else unlock, ``alloc_zspage`` (may sleep), ``S(class)``,
        ``obj_malloc``, ``insert_zspage``, stats, ``SetZsPageMovable``; unlock.
        """
        handle = yield from self.cache_alloc_handle(key)
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

    def cache_alloc_handle(self, key):
        """``cache_alloc_handle``: a handle from the pool's kmem_cache (may sleep with the gfp used).
        (protocol §2.1 step 2)"""
        yield might_sleep()
        return new_handle(key)

    def cache_free_handle(self, handle):
        """``cache_free_handle``: return the handle to its kmem_cache. (protocol §2.2 step 8)"""
        yield handle.obj.free()

    def obj_malloc(self, zspage, handle):
        """``obj_malloc``: pop ``freeobj``, write ``handle | OBJ_ALLOCATED_TAG`` in the header,
        ``inuse++``, ``record_obj``; returns the obj value (caller holds class->lock).
        (protocol §2.1 step 5)
        """
        cls = zspage.cls
        yield zspage.obj.access()
        idx = zspage.freeobj
        if idx is None:
            raise Bug(f"obj_malloc: {zspage.name} has no free object (freelist corrupted)")
        page = zspage.first
        for _ in range(cls.geometry.location(idx)[0]):
            page = yield from self.get_next_zpdesc(page)
        yield page.obj.access(write=True)       # kmap_local: read link->next, write the header
        link = page.mem.get(("hdr", idx))
        if link is None or link[0] != "free":
            raise Bug(f"obj_malloc: object {idx} of {zspage.name} is not free (freelist corrupted)")
        page.mem[("hdr", idx)] = ("alloc", handle)
        yield zspage.obj.access(write=True)     # set_freeobj, mod_zspage_inuse(+1)
        zspage.freeobj = link[1]
        zspage.inuse += 1
        obj = self.location_to_obj(page, idx)
        yield from self.record_obj(handle, obj)
        return obj

    def alloc_zspage(self, cls):
        """``alloc_zspage``: a new zspage with its chain and in-page free list (may sleep).
        (protocol §2.1 step 6)  With a :class:`~model.pool.Zone` its pages are frames
        other tasks can already see (``alloc_zpdesc``), else fresh pages nobody else can."""
        yield might_sleep()
        pages = None
        zone = self.pool.zone
        if zone is not None:
            pages = []
            for _ in range(cls.pages_per_zspage):
                pages.append((yield from self.alloc_zpdesc(zone)))
        return self.new_zspage(cls, pages)

    def alloc_zpdesc(self, zone):
        """``alloc_zpdesc`` (``alloc_pages_node``; protocol §2.1 step 6): take a free frame
        under ``zone->lock``, then
        ``set_page_refcounted`` (its own step: ``folio_try_get`` of a scanner fails
        before it, succeeds after), then ``__zpdesc_set_zsmalloc`` (the page type, a
        declared write: a scanner's ``folio_put`` may test it).  A scenario gives as many
        frames as its zs_malloc calls can take (no -ENOMEM path is modelled)."""
        yield zone.lock.acquire()
        if not zone.free:
            raise ModelError("alloc_zpdesc: the zone has no free frame left; give the scenario "
                             "more frames (Scenario.frames)")
        page = zone.free.pop(0)
        yield zone.lock.release()
        yield page.ref.write(1)
        yield page.desc.access(write=True)
        page.zsmalloc = True
        return page

    def new_zspage(self, cls, frames=None) -> Zspage:
        """The plain part of ``alloc_zspage``: magic, class, zspage lock, chain, free list.

        No yields: the zspage is private to its creator until ``insert_zspage``.
        Names are per task (``self.tag``) so they do not depend on the interleaving.
        ``frames``: the pages to build it of (taken from the zone; other tasks may
        test them, but none is movable before ``SetZsPageMovable``), else fresh ones.
        """
        self.made += 1
        name = f"{self.tag}zs{self.made}"
        zspage = Zspage(name, Obj(name), cls)
        if self.pool is not None:
            self.pool.ghost_slabs.append(zspage)
        g = cls.geometry
        pages = []
        for i in range(g.pages_per_zspage):
            if frames:
                page = frames[i]        # alloc_zpdesc set its type
            else:
                page = new_page(f"{name}.p{i}")
                page.zsmalloc = True
            page.first_objs = g.first_objs(i)
            pages.append(page)
            if self.pool is not None:
                self.pool.ghost_pages.append(page)
        self.create_page_chain_plain(zspage, pages)
        objs = g.objs_per_zspage
        for idx in range(objs):        # init_zspage: link every object into the free list
            page_no, _, spans = g.location(idx)
            pages[page_no].mem[("hdr", idx)] = ("free", idx + 1 if idx + 1 < objs else None)
            pages[page_no].mem[("data", idx)] = None
            if spans:
                pages[page_no + 1].mem[("data", idx)] = None
        zspage.freeobj = 0
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
            yield page.desc.access(write=True)
            page.movable = True
            yield from self.zpdesc_unlock(page)
            page = yield from self.get_next_zpdesc(page)
