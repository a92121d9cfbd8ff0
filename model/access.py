"""Object access: the obj_read/obj_write API and the map API (zsmalloc-protocol.md section 2.3).

Both look the handle up under ``pool->lock`` (R), take the zspage read lock
*before* releasing it (hand-over-hand), and keep only the zspage read lock
while the caller uses the object.  While it holds that read lock the task
pins the zspage and the page(s) it uses (the contract of the
no-free-while-mapped property); the pins are recorded in ``self.mapped`` so
that the matching end call unpins exactly what was pinned, even if a buggy
variant re-derives another location.

What an access returns is a :class:`Mem`, the model's pointer: the page
itself (object inside one page), a copy (obj_read of a spanning object) or
the per-CPU bounce buffer (map of a spanning object).
"""

from __future__ import annotations

from dataclasses import dataclass

from checker import Bug, label

from .page_memory import object_value
from .pool import ZS_MM_RO, ZS_MM_WO


@dataclass(slots=True, eq=False)
class Mem:
    """A mapped object: ``kind`` is ``"page"`` (``page``, ``idx``), ``"copy"`` (``value``)
    or ``"area"`` (the per-CPU ``area``)."""

    kind: str
    page: object = None
    idx: int = 0
    value: object = None
    area: object = None


class HandleLookup:
    """The prologue the kernel repeats in every access function (2.3 c steps 1-3)."""

    def _lookup_and_read_lock(self, handle, fn):
        """``R(pool)``, lookup, ``ZR``, drop ``R(pool)``, for kernel function ``fn``.

        The zspage and the object's page(s) are pinned once the read lock is
        held, before ``R(pool)`` is dropped: while the task is atomic a pin is
        no preemption point.  (Finding the second page of a spanning object for
        the pin is not a kernel access; the kernel's read of ``next`` stays
        where the kernel does it.)  Returns ``(zspage, page, idx, pins)``.
        Override one access function to change one caller; override this to
        change all of them.
        (protocol §2.3 c steps 1-3)
        """
        pool = self.pool
        yield pool.lock.acquire(shared=True)
        yield label(fn)
        obj = yield from self.handle_to_obj(handle)
        if not obj:
            raise Bug(f"{fn}: handle {handle.key} holds no location")
        page, idx = self.obj_to_location(obj)
        zspage = yield from self.get_zspage(page)
        yield from self.zspage_read_lock(zspage)
        pins = [zspage.obj, page.obj]
        if zspage.cls.geometry.location(idx)[2] and page.next is not None:
            pins.append(page.next.obj)
        for o in pins:
            yield o.pin()
        yield pool.lock.release()
        return zspage, page, idx, pins


class ObjAccess(HandleLookup):
    """(b)/(c) ``zs_obj_read_begin``, ``zs_obj_read_end``, ``zs_obj_write``."""

    def zs_obj_read_begin(self, handle):
        """``zs_obj_read_begin`` (2.3 c): returns holding the zspage read lock only.

        An object inside one page is returned in place (``kmap_local``); a
        spanning object is copied half by half (``memcpy_from_page``) into the
        caller's buffer.  The caller may sleep or be preempted until read_end.
        """
        zspage, page, idx, pins = yield from self._lookup_and_read_lock(handle, "zs_obj_read_begin")
        _, _, spans = zspage.cls.geometry.location(idx)
        if not spans:
            mem = Mem("page", page, idx)
        else:
            yield page.obj.access(marked=False)
            first = page.mem.get(("data", idx))
            nxt = yield from self.get_next_zpdesc(page)
            if nxt is None:
                raise Bug(f"zs_obj_read_begin: {page.name} has no next page for a spanning object")
            yield nxt.obj.access(marked=False)
            mem = Mem("copy", value=object_value((first, nxt.mem.get(("data", idx)))))
        self.mapped[handle.key] = pins
        return mem

    def zs_obj_read_end(self, handle, mem):
        """``zs_obj_read_end`` (2.3 c): re-derive the location without ``pool->lock``,
        ``kunmap_local`` an in-page mapping, ``ZRU``."""
        obj = yield from self.handle_to_obj(handle)
        if not obj:
            raise Bug(f"zs_obj_read_end: handle {handle.key} holds no location")
        zspage = yield from self.get_zspage(self.obj_to_zpdesc(obj))
        for o in reversed(self.mapped.pop(handle.key, ())):
            yield o.unpin()
        yield from self.zspage_read_unlock(zspage)

    def zs_obj_write(self, handle, value):
        """``zs_obj_write`` (2.3 c): lookup and ``ZR`` as read_begin, copy into the page(s)
        (``memcpy_to_page`` for each half of a spanning object), ``ZRU``."""
        zspage, page, idx, pins = yield from self._lookup_and_read_lock(handle, "zs_obj_write")
        _, _, spans = zspage.cls.geometry.location(idx)
        yield page.obj.access(write=True, marked=False)
        page.mem[("data", idx)] = value
        if spans:
            nxt = yield from self.get_next_zpdesc(page)
            if nxt is None:
                raise Bug(f"zs_obj_write: {page.name} has no next page for a spanning object")
            yield nxt.obj.access(write=True, marked=False)
            nxt.mem[("data", idx)] = value
        for o in reversed(pins):
            yield o.unpin()
        yield from self.zspage_read_unlock(zspage)


class MapAccess(HandleLookup):
    """(a)/(b) ``zs_map_object`` / ``zs_unmap_object`` with the per-CPU ``zs_map_area``.

    ``local_lock(&zs_map_area.lock)`` is ``preempt_disable`` on !RT, so the
    caller is atomic from map to unmap.  ``self.cpu`` stands for
    ``this_cpu_ptr``: tasks are pinned to their CPU.
    """

    def local_lock(self):
        """``local_lock(&zs_map_area.lock)``: ``preempt_disable()`` on !PREEMPT_RT, this
        CPU's sleeping lock on PREEMPT_RT. (protocol §2.3 a step 3)"""
        yield self.pool.map_area[self.cpu].lock.acquire()

    def local_unlock(self):
        """``local_unlock(&zs_map_area.lock)``: ``preempt_enable()`` on !PREEMPT_RT.
        (protocol §2.3 a step 6)"""
        yield self.pool.map_area[self.cpu].lock.release()

    def zs_map_object(self, handle, mm):
        """``zs_map_object`` (2.3 a): ``R(pool)``, lookup, ``ZR``, drop ``R(pool)``,
        ``local_lock``, record the mode; an in-page object is mapped in place, a
        spanning one is copied into the area's ``vm_buf`` unless write-only.
        (``BUG_ON(in_interrupt())`` is not modelled: a map from a hard interrupt
        handler, a scenario's ``irq`` client (hazard 20), is reported by
        ``irq-lock-state`` through the locks it takes instead.)
        """
        zspage, page, idx, pins = yield from self._lookup_and_read_lock(handle, "zs_map_object")
        _, _, spans = zspage.cls.geometry.location(idx)
        yield from self.local_lock()
        area = self.pool.map_area[self.cpu]
        yield area.vm_mm.write(mm)
        self.mapped[handle.key] = pins
        if not spans:
            return Mem("page", page, idx)
        nxt = yield from self.get_next_zpdesc(page)
        if nxt is None:
            raise Bug(f"zs_map_object: BUG_ON(!zpdescs[1]) for {page.name}")
        yield from self._zs_map_object(area, (page, nxt), idx)
        return Mem("area", area=area)

    def _zs_map_object(self, area, pages, idx):
        """``__zs_map_object``: unless ``ZS_MM_WO``, copy both halves into ``area->vm_buf``.
        (protocol §2.3 a step 4)"""
        mm = yield area.vm_mm.read()
        if mm == ZS_MM_WO:
            return
        parts = []
        for p in pages:
            yield p.obj.access(marked=False)
            parts.append(p.mem.get(("data", idx)))
        yield area.vm_buf.write(object_value(parts))

    def zs_unmap_object(self, handle):
        """``zs_unmap_object`` (2.3 a, step 6): re-derive the location without the pool lock;
        a spanning object is copied back unless read-only; ``local_unlock``; ``ZRU``."""
        yield label("zs_unmap_object")
        obj = yield from self.handle_to_obj(handle)
        if not obj:
            raise Bug(f"zs_unmap_object: handle {handle.key} holds no location")
        page, idx = self.obj_to_location(obj)
        zspage = yield from self.get_zspage(page)
        _, _, spans = zspage.cls.geometry.location(idx)
        area = self.pool.map_area[self.cpu]
        if spans:
            nxt = yield from self.get_next_zpdesc(page)
            if nxt is None:
                raise Bug(f"zs_unmap_object: BUG_ON(!zpdescs[1]) for {page.name}")
            yield from self._zs_unmap_object(area, (page, nxt), idx)
        yield from self.local_unlock()
        for o in reversed(self.mapped.pop(handle.key, ())):
            yield o.unpin()
        yield from self.zspage_read_unlock(zspage)

    def _zs_unmap_object(self, area, pages, idx):
        """``__zs_unmap_object``: unless ``ZS_MM_RO``, copy ``vm_buf`` back into both halves.
        (protocol §2.3 a step 6)"""
        mm = yield area.vm_mm.read()
        if mm == ZS_MM_RO:
            return
        value = yield area.vm_buf.read()
        for p in pages:
            yield p.obj.access(write=True, marked=False)
            p.mem[("data", idx)] = value

