"""zs_obj_read_end stops re-deriving the zspage from the handle: zs_obj_read_begin keeps the
zspage it read-locked in the caller's per-mapping state, and read_end unlocks that one:

    /* read_begin */  ...; zspage_read_lock(zspage); ...; mapping->zspage = zspage;
    /* read_end   */  zspage = mapping->zspage;  if (in-page) kunmap_local(...);
                      zspage_read_unlock(zspage);

(saving a handle read, the pfn_to_page and get_zspage's magic check).  The model keeps the
pointer on the task's own version object (``self``: the caller's stack), across the window in
which the reader holds only the zspage read lock and may sleep.

Verdict decided from the protocol document before running zsmc: NOT A BUG.
§2.3 (c) read_end step 1: re-deriving without pool->lock "is safe because the held zspage read
lock blocks both migration and compaction of this zspage, the only writers of this handle";
by the same argument the zspage cannot be freed while read-locked (§2.6 "Why a zspage cannot
be freed while one of its objects is being accessed", I3: a stable location and live page
until ZRU), and migration never replaces the zspage struct, only a page (§2.5).  The cached
pointer is the zspage read_end would have re-derived.
"""
from model import Upstream


class ReadEndCachedZspage(Upstream):
    def zs_obj_read_begin(self, handle):
        mem = yield from super().zs_obj_read_begin(handle)
        # the zspage read_begin locked: the one get_zspage found under R(pool)
        self.__dict__.setdefault("read_zspages", {})[handle.key] = self._locked_zspage
        return mem

    def _lookup_and_read_lock(self, handle, fn):
        zspage, page, idx, pins = yield from super()._lookup_and_read_lock(handle, fn)
        self._locked_zspage = zspage
        return zspage, page, idx, pins

    def zs_obj_read_end(self, handle, mem):
        zspage = self.read_zspages.pop(handle.key)
        for o in reversed(self.mapped.pop(handle.key, ())):
            yield o.unpin()
        yield from self.zspage_read_unlock(zspage)
