"""Compaction: zs_compact, __zs_compact, migrate_zspage (zsmalloc-protocol.md section 2.4).

``__zs_compact`` runs under ``pool->lock`` (W) and ``class->lock``; it isolates a
destination and a source zspage, write-trylocks the source (b/c; legacy takes
it blocking, see :mod:`model.versions`), moves objects, puts both back and
frees an emptied source.  The only preemption point is the ``cond_resched``
with nothing held and nothing isolated.
"""

from __future__ import annotations

from checker import Bug, cond_resched, label

from .access import object_value
from .pool import ZS_INUSE_RATIO_0, ZS_INUSE_RATIO_100, ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE


def _set_one(v):
    return 1


class Compaction:
    """zs_compact, _zs_compact, zs_can_compact, migrate_zspage and helpers."""

    def zs_compact(self):
        """``zs_compact`` (2.4): ``atomic_xchg(compaction_in_progress, 1)``, then
        ``__zs_compact`` for every class from the largest; clear the flag.  Returns pages freed."""
        pool = self.pool
        busy = yield pool.compaction_in_progress.rmw(_set_one)
        if busy:
            return 0
        freed = 0
        for cls in reversed(pool.size_class):
            freed += yield from self._zs_compact(cls)
        yield pool.compaction_in_progress.write(0)
        return freed

    def zs_can_compact(self, cls):
        """``zs_can_compact``: pages a compaction could free, from the class stats. (protocol §2.4 step 2)"""
        yield cls.obj.access(marked=False)
        allocated = cls.stats[ZS_OBJS_ALLOCATED]
        used = cls.stats[ZS_OBJS_INUSE]
        if allocated <= used:
            return 0
        return (allocated - used) // cls.objs_per_zspage * cls.pages_per_zspage

    def rwlock_is_contended(self, lock) -> bool:
        """``rwlock_is_contended``: the model does not see waiters; the scenario says (a plain
        method).  False, except for ``pool->lock`` in a scenario whose pool lock is always
        contended (``Scenario.pool_lock_contended``, scenario ``compact-contended``):
        there ``__zs_compact``'s resched block runs after every source, with a destination
        still partly free (red team round 7: a patch that changed only what the contended
        branch does could not be run by any scenario).  Elsewhere the block still runs
        whenever the destination fills."""
        return lock is self.pool.lock and self.pool.lock_contended

    def _zs_compact(self, cls):
        """``__zs_compact`` (2.4, b/c; Python mangles ``__``, hence one underscore).

        1. ``W(pool)``, ``S(class)``.  2. while ``zs_can_compact``: isolate dst (if
        none) and src; ``ZWT(src)`` or break; ``migrate_zspage``; ``ZWU(src)``;
        putback src and free it if empty; ``src = NULL``; if dst is full (or the
        pool lock contended): putback dst, unlock both, ``cond_resched``, relock.
        3. putback what is still isolated, unlock.  Returns pages freed.
        """
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
            if not (yield from self.zspage_write_trylock(src)):
                break
            yield from self.migrate_zspage(src, dst)
            yield from self.zspage_write_unlock(src)
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

    def migrate_zspage(self, src, dst):
        """``migrate_zspage`` (2.4 d): for each allocated object of src (``find_alloced_obj``
        page by page): ``obj_malloc`` in dst (rewrites the handle), ``zs_object_copy``,
        ``obj_free`` in src; stop when dst is full or src empty."""
        cls = src.cls
        s_page = yield from self.get_first_zpdesc(src)
        obj_idx = 0
        while True:
            handle, obj_idx = yield from self.find_alloced_obj(cls, s_page, obj_idx)
            if handle is None:
                s_page = yield from self.get_next_zpdesc(s_page)
                if s_page is None:
                    break
                obj_idx = 0
                continue
            used_obj = yield from self.handle_to_obj(handle)
            free_obj = yield from self.obj_malloc(dst, handle)
            yield from self.zs_object_copy(cls, free_obj, used_obj)
            obj_idx += 1
            yield from self.obj_free(cls, used_obj)
            yield dst.obj.access(marked=False)
            if dst.inuse == cls.objs_per_zspage:
                break
            yield src.obj.access(marked=False)
            if src.inuse == 0:
                break

    def find_alloced_obj(self, cls, page, obj_idx):
        """``find_alloced_obj``: from the ``obj_idx``-th object starting in ``page``, the first
        allocated one; returns ``(handle or None, index reached)``.
        (protocol §2.4 d)
        """
        yield page.obj.access(marked=False)
        objs = page.first_objs
        while obj_idx < len(objs):
            hdr = page.mem.get(("hdr", objs[obj_idx]))
            if hdr is not None and hdr[0] == "alloc":
                return hdr[1], obj_idx
            obj_idx += 1
        return None, obj_idx

    def zs_object_copy(self, cls, dst_obj, src_obj):
        """``zs_object_copy``: copy the object's bytes, following each chain where it spans.

        The kernel copies ``class->size`` bytes from the object's start, so the
        handle header that starts the object is copied too: it overwrites the
        header ``obj_malloc`` just wrote in dst (the same ``handle | TAG`` while
        src still holds the object; a free-list link if src was freed first).
        (protocol §2.4 d)"""
        parts = []
        page, idx = self.obj_to_location(src_obj)
        spans = cls.geometry.location(idx)[2]
        yield page.obj.access(marked=False)
        header = page.mem.get(("hdr", idx))
        parts.append(page.mem.get(("data", idx)))
        if spans:
            nxt = yield from self.get_next_zpdesc(page)
            if nxt is None:
                raise Bug(f"zs_object_copy: {page.name} has no next page")
            yield nxt.obj.access(marked=False)
            parts.append(nxt.mem.get(("data", idx)))
        value = object_value(parts)
        page, idx = self.obj_to_location(dst_obj)
        spans = cls.geometry.location(idx)[2]
        yield page.obj.access(write=True, marked=False)
        page.mem[("hdr", idx)] = header
        page.mem[("data", idx)] = value
        if spans:
            nxt = yield from self.get_next_zpdesc(page)
            if nxt is None:
                raise Bug(f"zs_object_copy: {page.name} has no next page")
            yield nxt.obj.access(write=True, marked=False)
            nxt.mem[("data", idx)] = value
