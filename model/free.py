"""Freeing: zs_free and the zspage free paths (zsmalloc-protocol.md sections 2.2 and 2.6).

``zs_free`` is atomic on !RT: it takes ``pool->lock`` (R) only until it holds
``class->lock`` (hand-over-hand) and never sleeps, so ``free_zspage`` only
trylocks the page locks and defers to the ``async_free_zspage`` worker when
one is busy.  The worker sleeps for page locks in ``lock_zspage``, which takes
the zspage read lock around every chain step so that migration cannot swap a
page under it (bug 2 of section 4).
"""

from __future__ import annotations

from checker import Bug, SharedList, label
from checker.coverage import op_object

from .pool import DEFERRED, FREEING, ZS_INUSE_RATIO_0, ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE


class Freeing:
    """zs_free, obj_free, free_zspage, _free_zspage, trylock_zspage, lock_zspage, the worker."""

    def zs_free(self, handle):
        """``zs_free`` (2.2): ``R(pool)``; look up the zspage; ``S(class)``; drop ``R(pool)``;
        ``OBJS_INUSE--``; ``obj_free``; ``fix_fullness_group``; ``free_zspage`` if empty;
        unlock class; free the handle.
        """
        pool = self.pool
        yield pool.lock.acquire(shared=True)
        yield label("zs_free")
        obj = yield from self.handle_to_obj(handle)
        if not obj:
            raise Bug(f"zs_free: handle {handle.key} holds no location")
        zspage = yield from self.get_zspage(self.obj_to_zpdesc(obj))
        cls = zspage.cls
        yield cls.lock.acquire()
        yield pool.lock.release()
        yield from self.class_stat_sub(cls, ZS_OBJS_INUSE, 1)
        yield from self.obj_free(cls, obj)
        fullness = yield from self.fix_fullness_group(cls, zspage)
        if fullness == ZS_INUSE_RATIO_0:
            yield from self.free_zspage(cls, zspage)
        yield cls.lock.release()
        yield from self.cache_free_handle(handle)

    def obj_free(self, cls, obj):
        """``obj_free``: push the object on its zspage's free list, ``inuse--`` (class->lock held).
        (protocol §2.2 step 6)"""
        page, idx = self.obj_to_location(obj)
        zspage = yield from self.get_zspage(page)
        yield page.obj.access(write=True, marked=False)       # kmap_local: link->next = freeobj
        link = page.mem.get(("hdr", idx))
        if link is None or link[0] != "alloc":
            raise Bug(f"obj_free: object {idx} of {zspage.name} is not allocated (double free)")
        page.mem[("hdr", idx)] = ("free", zspage.freeobj)
        yield zspage.obj.access(write=True, marked=False)     # set_freeobj, mod_zspage_inuse(-1)
        zspage.freeobj = idx
        zspage.inuse -= 1

    def free_zspage(self, cls, zspage):
        """``free_zspage`` (2.6): trylock every page or ``kick_deferred_free``; on success
        ``remove_zspage`` and ``_free_zspage``.  Caller holds ``class->lock``; never sleeps.
        """
        yield zspage.obj.access(marked=False)
        if zspage.inuse:
            raise Bug(f"free_zspage: VM_BUG_ON(get_zspage_inuse({zspage.name}))")
        if zspage.list is None:
            raise Bug(f"free_zspage: VM_BUG_ON(list_empty(&{zspage.name}->list))")
        if not (yield from self.trylock_zspage(zspage)):
            yield from self.kick_deferred_free()
            return
        yield from self.remove_zspage(cls, zspage)
        yield from self._free_zspage(cls, zspage)

    def _free_zspage(self, cls, zspage):
        """``__free_zspage`` (Python mangles a leading ``__``, hence one underscore).

        Asserts ``class->lock`` held, ``inuse == 0`` and fullness 0%; for each page
        (each must be locked): reset it, unlock it, drop the zspage's reference
        (the last reference frees the page); free the zspage struct;
        ``OBJS_ALLOCATED -= objs_per_zspage``; ``pages_allocated -= pages_per_zspage``.
        (protocol §2.2 step 7, §2.6)
        """
        if cls.lock.writer is None:
            raise Bug("__free_zspage: assert_spin_locked(&class->lock)")
        yield zspage.obj.access(marked=False)
        if zspage.inuse:
            raise Bug(f"__free_zspage: VM_BUG_ON(get_zspage_inuse({zspage.name}))")
        if zspage.fullness != ZS_INUSE_RATIO_0:
            raise Bug(f"__free_zspage: VM_BUG_ON({zspage.name}->fullness != ZS_INUSE_RATIO_0)")
        page = zspage.first
        while page is not None:
            yield page.chain.access(marked=False)
            if page.lock.writer is None:
                raise Bug(f"__free_zspage: VM_BUG_ON_PAGE(!zpdesc_is_locked({page.name}))")
            nxt = page.next
            yield from self.reset_zpdesc(page)
            yield from self.zpdesc_unlock(page)
            yield from self.zpdesc_put(page)
            page = nxt
        yield from self.cache_free_zspage(zspage)
        yield from self.class_stat_sub(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
        if zspage in cls.ghost_zspages:
            cls.ghost_zspages.remove(zspage)
        self.pool.pages_allocated -= cls.pages_per_zspage        # atomic_long_sub

    def cache_free_zspage(self, zspage):
        """``cache_free_zspage``: free the zspage struct (the slab poisons it: magic is gone).
        (protocol §2.2 step 7)"""
        zspage.magic = 0
        yield zspage.obj.free()

    def trylock_zspage(self, zspage):
        """``trylock_zspage`` (protocol §2.6): trylock every page of the chain; on a failure
        unlock the prefix (walking the chain again) and return False.  Caller holds ``class->lock``.
        """
        fail = None
        cursor = yield from self.get_first_zpdesc(zspage)
        while cursor is not None:
            if not (yield from self.zpdesc_trylock(cursor)):
                fail = cursor
                break
            cursor = yield from self.get_next_zpdesc(cursor)
        if fail is None:
            return True
        cursor = yield from self.get_first_zpdesc(zspage)
        while cursor is not fail and cursor is not None:
            yield from self.zpdesc_unlock(cursor)
            cursor = yield from self.get_next_zpdesc(cursor)
        return False

    def lock_zspage(self, zspage):
        """``lock_zspage`` (2.6): lock every page, each trylock under the zspage read lock.

        A busy page is waited for outside the read lock, holding a page
        reference (it may be migrated meanwhile); the walk then restarts from
        the first page (for the first page) or from the last *locked* page.
        """
        while True:
            yield from self.zspage_read_lock(zspage)
            page = yield from self.get_first_zpdesc(zspage)
            if (yield from self.zpdesc_trylock(page)):
                break
            yield from self.zpdesc_get(page)
            yield from self.zspage_read_unlock(zspage)
            yield from self.zpdesc_wait_locked(page)
            yield from self.zpdesc_put(page)
        curr = page
        while True:
            page = yield from self.get_next_zpdesc(curr)
            if page is None:
                break
            if (yield from self.zpdesc_trylock(page)):
                curr = page
            else:
                yield from self.zpdesc_get(page)
                yield from self.zspage_read_unlock(zspage)
                yield from self.zpdesc_wait_locked(page)
                yield from self.zpdesc_put(page)
                yield from self.zspage_read_lock(zspage)
        yield from self.zspage_read_unlock(zspage)

    def kick_deferred_free(self):
        """``kick_deferred_free``: ``schedule_work(&pool->free_work)`` (sets the pending bit).
        (protocol §2.6)"""
        yield self.pool.free_work.write(True)

    def async_free_zspage(self):
        """``async_free_zspage`` (2.6), the body of the free work item.

        For each class: ``S(class)``, splice the 0% list onto the private list,
        unlock.  For each spliced zspage: unlink it, ``lock_zspage`` (sleeps),
        ``S(class)``, ``class_stat_sub(ZS_INUSE_RATIO_0)``, ``_free_zspage``, unlock.
        """
        pool = self.pool
        for cls in pool.size_class:
            yield cls.lock.acquire()
            yield label("async_free_zspage")
            yield cls.obj.access(write=True, marked=False)
            spliced = cls.fullness_list[ZS_INUSE_RATIO_0]
            op_object((cls, ZS_INUSE_RATIO_0))
            cls.fullness_list[ZS_INUSE_RATIO_0] = SharedList()
            for zspage in spliced:
                yield zspage.obj.access(write=True, marked=False)
                zspage.list = DEFERRED
            pool.deferred.extend(spliced)
            yield cls.lock.release()
        while pool.deferred:
            zspage = pool.deferred[0]
            yield zspage.obj.access(write=True, marked=False)     # list_del
            pool.deferred.remove(zspage)
            zspage.list = FREEING
            yield from self.lock_zspage(zspage)
            cls = zspage.cls
            yield cls.lock.acquire()
            yield from self.class_stat_sub(cls, ZS_INUSE_RATIO_0, 1)
            yield from self._free_zspage(cls, zspage)
            yield cls.lock.release()
