"""Mutations of the object access paths: unlock before use, chain walk after unlock, the per-
CPU area without local_lock (section 2.3; catalogue #13, #19, #24).

See :mod:`model.mutations` for the conventions.
"""

from __future__ import annotations

from checker import Bug

from ..versions import V5, Upstream
from ._register import _mutation


# -- #19 unlock before use in zs_obj_read_end ------------------------------------------
@_mutation("read-end-unlock-first", "upstream", "no-free-while-mapped",
           "protocol §4 #19 (design hazard of the obj_read API, 6.15 review)",
           "zs_obj_read_end drops the zspage read lock before kunmap_local of the object")
class ReadEndUnlockFirst(Upstream):
    """Hazard #19 (section 4): ``ZRU`` before the last use of the mapping, so compaction
    can move the object and free the page that ``kunmap_local`` then touches (I3).

    Must violate: ``no-free-while-mapped``, found in scenario ``up-read-compact`` at depth 1.
    """

    def zs_obj_read_end(self, handle, mem):
        """``zs_obj_read_end`` (2.3 c) with ``ZRU`` moved before ``kunmap_local``."""
        obj = yield from self.handle_to_obj(handle)
        if not obj:
            raise Bug(f"zs_obj_read_end: handle {handle.key} holds no location")
        page = obj[0]
        zspage = yield from self.get_zspage(page)
        for o in reversed(self.mapped.pop(handle.key, ())):
            yield o.unpin()
        yield from self.zspage_read_unlock(zspage)      # the bug: too early
        yield page.obj.access(marked=False)                         # kunmap_local(stale address)


# -- #24 chain walk after the read unlock -----------------------------------------------
@_mutation("write-second-half-after-unlock", "upstream", "no-free-while-mapped",
           "protocol §4 #24 (chain walks need class->lock, pool->lock W or the zspage read lock)",
           "zs_obj_write fetches and writes the second page of a spanning object after ZRU")
class WriteSecondHalfAfterUnlock(Upstream):
    """Hazard #24 (section 4): ``get_next_zpdesc`` and the second ``memcpy_to_page`` run
    after ``ZRU``, when migration may have replaced (and freed) that page.

    Must violate: ``no-free-while-mapped``, found in scenario ``read-migrate`` at depth 1.
    """

    def zs_obj_write(self, handle, value):
        """``zs_obj_write`` (2.3 c) with the second half written after the read unlock."""
        zspage, page, idx, pins = yield from self._lookup_and_read_lock(handle, "zs_obj_write")
        _, _, spans = zspage.cls.geometry.location(idx)
        yield page.obj.access(write=True, marked=False)
        page.mem[("data", idx)] = value
        for o in reversed(pins):
            yield o.unpin()
        yield from self.zspage_read_unlock(zspage)     # the bug: too early
        if spans:
            nxt = yield from self.get_next_zpdesc(page)
            if nxt is None:
                raise Bug(f"zs_obj_write: {page.name} has no next page for a spanning object")
            yield nxt.obj.access(write=True, marked=False)
            nxt.mem[("data", idx)] = value


# -- #13 per-CPU mapping area without local_lock (v5) -----------------------------------------
@_mutation("map-area-without-local-lock", "v5", "data-integrity",
           "zsmalloc: turn that get_cpu_light() into a local_lock(), Sebastian Andrzej Siewior, "
           "RT tree 2016; mainline 5.17 'zsmalloc: replace get_cpu_var with local_lock'",
           "zs_map_object uses the per-CPU area while preemptible")
class MapAreaWithoutLocalLock(V5):
    """Bug #13 (section 4): a second mapper on the same CPU overwrites ``vm_buf`` and the
    first unmap copies the wrong bytes back.  Expressed in v5 (b): its zspage read lock is
    preemptible, so ``local_lock`` is what keeps a mapper on its CPU; in legacy (a) the
    rwlock read side already makes the mapper atomic on !RT.

    Must violate: ``data-integrity``, found in scenario ``up-clients`` at depth 1.
    """

    def local_lock(self):
        """``local_lock`` removed: the mapper stays preemptible."""
        return
        yield

    def local_unlock(self):
        """``local_unlock`` removed."""
        return
        yield
