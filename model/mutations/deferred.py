"""Mutations of lock_zspage and async_free_zspage: the deferred-free worker (section 2.6;
catalogue #2, #3, #4, #7, #12).

See :mod:`model.mutations` for the conventions.
"""

from __future__ import annotations

from checker import label

from ..pool import DEFERRED, FREEING, ZS_INUSE_RATIO_0
from ..versions import Legacy, Upstream
from ._register import _mutation


# -- #2 lock_zspage walks the chain without the zspage lock --------------------------------
@_mutation("lock-zspage-unlocked-walk", "upstream", "bug",
           "zsmalloc: fix races between asynchronous zspage free and page migration, "
           "Sultan Alsawaf, May 2022, 2505a981114d",
           "lock_zspage walks the page chain with blocking lock_page and no zspage read lock")
class LockZspageUnlockedWalk(Upstream):
    """Bug #2 (section 4): while the worker sleeps on page k, migration replaces page k+1;
    the worker locks a page no longer in the zspage and ``__free_zspage`` frees a zspage
    whose pages are not all locked (I4).

    Must violate: ``bug`` (a model BUG_ON), found in scenario ``free-deferred`` at depth 1.
    """

    def lock_zspage(self, zspage):
        """Pre-2505a981114d ``lock_zspage``: ``lock_page`` each page of the chain."""
        page = yield from self.get_first_zpdesc(zspage)
        while page is not None:
            yield from self.zpdesc_lock(page)
            page = yield from self.get_next_zpdesc(page)


# -- #3 (b) lock_zspage resumes from the page that failed the trylock ------------------------
@_mutation("lock-zspage-resumes-from-failed-page", "upstream", "bug",
           "zsmalloc: fix races between asynchronous zspage free and page migration, "
           "Sultan Alsawaf, May 2022, 2505a981114d (sub-mutation b)",
           "after waiting, lock_zspage retries the page it waited for, which may have been migrated")
class LockZspageResumesFromFailedPage(Upstream):
    """Entry #3 (b) (section 4): after re-taking the read lock the walk retries the page
    that failed the trylock instead of re-reading ``next`` of the last locked page; that
    page may have been replaced by migration meanwhile, so the zspage is freed with a page
    it never locked (I4).

    Must violate: ``bug`` (a model BUG_ON), found in scenario ``free-deferred`` at depth 1.
    """

    def lock_zspage(self, zspage):
        """``lock_zspage`` (2.6) with the wrong restart point."""
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
        page = yield from self.get_next_zpdesc(curr)
        while page is not None:
            if (yield from self.zpdesc_trylock(page)):
                curr = page
                page = yield from self.get_next_zpdesc(curr)
            else:
                yield from self.zpdesc_get(page)
                yield from self.zspage_read_unlock(zspage)
                yield from self.zpdesc_wait_locked(page)
                yield from self.zpdesc_put(page)
                yield from self.zspage_read_lock(zspage)
                # the bug: retry `page` rather than get_next_zpdesc(curr)
        yield from self.zspage_read_unlock(zspage)


# -- #4 Minchan's alternative: read lock held across blocking lock_page (legacy) ------------
@_mutation("lock-zspage-sleeps-under-read-lock", "legacy", "deadlock",
           "Minchan Kim's alternative in the review of 2505a981114d, May 2022",
           "lock_zspage holds the zspage read lock (an rwlock) across blocking lock_page")
class LockZspageSleepsUnderReadLock(Legacy):
    """Entry #4 (section 4): the worker sleeps in ``lock_page(P)`` inside the rwlock while
    the migrator holds P's page lock and waits in ``migrate_write_lock``: deadlock (and
    sleeping in atomic context).

    Must violate: ``deadlock``, found in scenario ``free-deferred`` at depth 1.
    """

    def lock_zspage(self, zspage):
        """``lock_zspage`` = ``migrate_read_lock``; ``lock_page`` every page; unlock."""
        yield from self.migrate_read_lock(zspage)
        page = yield from self.get_first_zpdesc(zspage)
        while page is not None:
            yield from self.zpdesc_lock(page)
            page = yield from self.get_next_zpdesc(page)
        yield from self.migrate_read_unlock(zspage)


# -- #12 async free forgets the per-fullness stat -------------------------------------------
@_mutation("async-free-no-stat", "upstream", "pool-consistency",
           "mm/zsmalloc: fix class per-fullness zspage counts, Chengming Zhou, Jun 2024 (6.11)",
           "async_free_zspage frees a spliced zspage without class_stat_sub(ZS_INUSE_RATIO_0)")
class AsyncFreeNoStat(Upstream):
    """Bug #12 (section 4): the 0% per-fullness count never decreases (I6).

    Must violate: ``pool-consistency``, found in scenario ``free-deferred`` at depth 1.
    """

    def async_free_zspage(self):
        """``async_free_zspage`` (2.6) without the stat decrement."""
        pool = self.pool
        for cls in pool.size_class:
            yield cls.lock.acquire()
            yield label("async_free_zspage")
            yield cls.obj.access(write=True, marked=False)
            spliced = cls.fullness_list[ZS_INUSE_RATIO_0]
            cls.fullness_list[ZS_INUSE_RATIO_0] = []
            for zspage in spliced:
                yield zspage.obj.access(write=True, marked=False)
                zspage.list = DEFERRED
            pool.deferred.extend(spliced)
            yield cls.lock.release()
        while pool.deferred:
            zspage = pool.deferred[0]
            yield zspage.obj.access(write=True, marked=False)
            pool.deferred.remove(zspage)
            zspage.list = FREEING
            yield from self.lock_zspage(zspage)
            cls = zspage.cls
            yield cls.lock.acquire()
            # the bug: no class_stat_sub(cls, ZS_INUSE_RATIO_0, 1)
            yield from self._free_zspage(cls, zspage)
            yield cls.lock.release()


# -- #3 (c) lock_zspage caches the first page across the unlocked wait -----------------------
@_mutation("lock-zspage-caches-first-page", "upstream", "bug",
           "zsmalloc: fix races between asynchronous zspage free and page migration, "
           "Sultan Alsawaf, May 2022, 2505a981114d (sub-mutation c)",
           "after waiting for the first page, lock_zspage retries the cached pointer")
class LockZspageCachesFirstPage(Upstream):
    """Entry #3 (c) (section 4): the first-page pointer is read once and reused after the
    unlocked wait; migration may have replaced that page meanwhile, so the worker locks a
    page outside the zspage and frees the zspage without its new first page locked (I4).

    Must violate: ``bug`` (a model BUG_ON), found in scenario ``free-deferred`` at depth 1.
    """

    def lock_zspage(self, zspage):
        """``lock_zspage`` (2.6) with ``get_first_zpdesc`` hoisted out of the retry loop."""
        yield from self.zspage_read_lock(zspage)
        page = yield from self.get_first_zpdesc(zspage)     # the bug: never re-read
        while not (yield from self.zpdesc_trylock(page)):
            yield from self.zpdesc_get(page)
            yield from self.zspage_read_unlock(zspage)
            yield from self.zpdesc_wait_locked(page)
            yield from self.zpdesc_put(page)
            yield from self.zspage_read_lock(zspage)
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


# -- #7 free_zspage forgets kick_deferred_free ---------------------------------------------------
@_mutation("kick-deferred-free-forgotten", "upstream", "pool-consistency",
           "mm/zsmalloc.c: migration can leave pages in ZS_EMPTY indefinitely, Henry Burns, Aug 2019",
           "free_zspage forgets kick_deferred_free when a page trylock fails")
class KickDeferredFreeForgotten(Upstream):
    """Entry #7 (section 4): when a page of the empty zspage is locked (migration holds
    it) ``free_zspage`` leaves the zspage on the 0% list without queueing the free
    work, so nothing ever frees it (invariant I7).

    Must violate: ``pool-consistency`` (its end-of-execution check of I7), found in
    scenario ``free-migrate`` at depth 1.
    """

    def free_zspage(self, cls, zspage):
        """``free_zspage`` (2.6) before the fix: a failed trylock just returns."""
        yield zspage.obj.access(marked=False)
        if not (yield from self.trylock_zspage(zspage)):
            return
        yield from self.remove_zspage(cls, zspage)
        yield from self._free_zspage(cls, zspage)
