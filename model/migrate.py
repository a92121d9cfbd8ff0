"""Page migration: the movable_operations callbacks and the migration core
(zsmalloc-protocol.md section 2.5).

The zsmalloc side (``zs_page_isolate``, ``zs_page_migrate``, ``zs_page_putback``)
is called by the core of mm/migrate.c with the source page locked and a
reference held.  The core is modelled too, as in 6.15's mm/migrate.c for a
movable non-LRU page (``isolate_movable_page``, ``migrate_pages``,
``putback_movable_pages``): it drops the page lock between isolation and
migration and re-checks that the page is still movable, because a zspage can
be freed in that gap (its pages are reset, so they are no longer movable).
"""

from __future__ import annotations

from checker import Bug, SharedDict, label

from .pool import new_page

MIGRATEPAGE_SUCCESS = 0
EINVAL = 22


def movable_ops(page, callback: str) -> None:
    """The core reaches a zsmalloc callback through ``folio_movable_ops(folio)``, the
    movable_operations its mapping names; the model calls the method directly, so the
    callee checks what the dispatch needs: the page is still movable.  Once
    ``reset_zpdesc`` (``__ClearPageMovable``) ran -- the zspage was freed after the core
    isolated the page, which holds a reference, not the lock -- the ops are NULL and
    ``mops->CALLBACK`` oopses; the core re-checks ``folio_test_movable`` under the page
    lock for exactly that (red team round 5: a core patch dropping the re-check in
    ``putback_movable_pages`` passed, since ``zs_page_putback`` looked only at
    PG_isolated).  Plain: the caller holds the page lock, which every writer of the
    flag holds too."""
    if not page.movable:
        raise Bug(f"{callback}: {page.name} is no longer movable (its zspage was freed): "
                  f"folio_movable_ops() is NULL, mops->{callback}() dereferences it")


class Migration:
    """zs_page_isolate, zs_page_migrate, zs_page_putback, replace_sub_page, the core."""

    # -- movable_operations ---------------------------------------------------
    def zs_page_isolate(self, page):
        """``zs_page_isolate`` (2.5 c): ``VM_BUG_ON_PAGE(PageIsolated)``; return True.
        The locked page guarantees its zspage cannot be freed meanwhile.  (Page
        flags are read under the page lock the caller holds: no declared access.)"""
        if False:
            yield
        movable_ops(page, "isolate_page")
        if page.isolated:
            raise Bug(f"zs_page_isolate: VM_BUG_ON_PAGE(PageIsolated({page.name}))")
        return True

    def zs_page_putback(self, page):
        """``zs_page_putback`` (2.5 c): ``VM_BUG_ON_PAGE(!PageIsolated)``; nothing else."""
        if False:
            yield
        movable_ops(page, "putback_page")
        if not page.isolated:
            raise Bug(f"zs_page_putback: VM_BUG_ON_PAGE(!PageIsolated({page.name}))")

    def zs_page_migrate(self, newpage, page):
        """``zs_page_migrate`` (2.5 c), b/c versions; returns 0 or ``-EINVAL``.

        ``zpdesc->zspage`` is read before any lock (the page lock keeps it);
        ``W(pool)``, ``S(class)``, ``ZWT(zspage)`` (failure: unlock both, ``-EINVAL``);
        commit: tag ``newpage`` zsmalloc; ``copy_page``; rewrite the handle of every
        allocated object starting in the page; ``replace_sub_page``; unlock pool,
        class, then ``ZWU`` (non-LIFO); reference newpage, reset and put the old page.
        """
        zspage = yield from self.get_zspage(page)    # reads the page: PG_isolated too
        if not page.isolated:
            raise Bug(f"zs_page_migrate: VM_BUG_ON_PAGE(!zpdesc_is_isolated({page.name}))")
        pool = self.pool
        yield pool.lock.acquire()
        yield label("zs_page_migrate")
        cls = zspage.cls
        yield cls.lock.acquire()
        if not (yield from self.zspage_write_trylock(zspage)):
            yield cls.lock.release()
            yield pool.lock.release()
            return -EINVAL
        yield newpage.desc.access(write=True, marked=False)
        newpage.zsmalloc = True
        yield from self.copy_page_and_rewrite_handles(newpage, page)
        yield from self.replace_sub_page(cls, zspage, newpage, page)
        yield pool.lock.release()
        yield cls.lock.release()
        yield from self.zspage_write_unlock(zspage)
        yield from self.zpdesc_get(newpage)
        yield from self.reset_zpdesc(page)
        yield from self.zpdesc_put(page)
        return MIGRATEPAGE_SUCCESS

    def copy_page_and_rewrite_handles(self, newpage, page):
        """Steps 6-7 of 2.5: ``copy_page(new, old)``; for each object starting in the old
        page whose header is allocated, ``record_obj(handle, location_to_obj(newpage, idx))``."""
        yield page.obj.access(marked=False)
        yield newpage.obj.access(write=True, marked=False)
        newpage.mem = SharedDict(page.mem)
        for idx in page.first_objs:
            hdr = page.mem.get(("hdr", idx))
            if hdr is not None and hdr[0] == "alloc":
                handle = hdr[1]
                old = yield from self.handle_to_obj(handle)
                old_idx = self.obj_to_location(old)[1] if old else idx
                yield from self.record_obj(handle, self.location_to_obj(newpage, old_idx))

    def replace_sub_page(self, cls, zspage, newpage, oldpage):
        """``replace_sub_page``: rebuild the chain with newpage in oldpage's place, copy
        ``first_obj_offset``, mark newpage movable.
        (protocol §2.5 step 8)
        """
        pages = []
        page = yield from self.get_first_zpdesc(zspage)
        while page is not None:
            pages.append(newpage if page is oldpage else page)
            page = yield from self.get_next_zpdesc(page)
        yield from self.create_page_chain(cls, zspage, pages)
        yield newpage.desc.access(write=True, marked=False)
        newpage.first_objs = oldpage.first_objs
        newpage.movable = True

    def create_page_chain(self, cls, zspage, pages):
        """``create_page_chain`` (protocol §2.5 step 8): rewrite every page's zspage/next/first fields and
        ``zspage->first_zpdesc``."""
        for i, page in enumerate(pages):
            yield page.chain.access(write=True, marked=False)
            page.zspage = zspage
            page.next = pages[i + 1] if i + 1 < len(pages) else None
            page.first = i == 0
        yield zspage.obj.access(write=True, marked=False)
        zspage.first = pages[0]

    # -- the migration core (mm/migrate.c) --------------------------------------
    def isolate_movable_page(self, page):
        """mm/migrate.c ``isolate_movable_page`` (protocol §2.5): take a reference unless the
        page is free; test ``__PageMovable`` *before* the page lock ("page's owner assumes
        anybody doesn't touch PG_lock of newly allocated page": ``SetZsPageMovable`` trylocks
        the pages of a zspage it is creating and WARNs on failure, §2.1 step 7); trylock it;
        check again that it is movable and not isolated, ``zs_page_isolate``, set
        PG_isolated, unlock.  True: isolated, and the reference is kept.

        The first test is racy by design (the kernel re-checks under the lock): it is a
        step of its own, a declared read of the descriptor, so the search orders it
        against every declared write of ``movable`` (``SetZsPageMovable``,
        ``reset_zpdesc``'s ``__ClearPageMovable``, ``replace_sub_page``) and explores
        both outcomes; it is no data race, since every writer declares its write too
        (checker/races.py reports it against an undeclared one).  The second test is under
        the page lock its writers hold."""
        if not (yield from self.get_page_unless_zero(page)):
            return False
        if (yield from self._folio_test_movable(page)) and (yield from self.zpdesc_trylock(page)):
            if page.movable and not page.isolated and (yield from self.zs_page_isolate(page)):
                yield from self.folio_set_isolated(page)
                yield from self.zpdesc_unlock(page)
                return True
            yield from self.zpdesc_unlock(page)
        yield from self.zpdesc_put(page)
        return False

    def folio_set_isolated(self, page):
        """``folio_set_isolated`` (PG_isolated; protocol §2.5): the core marks a page it has
        isolated, under the page lock.  Page flags are atomic bitops (``set_bit``), so a test
        of PG_isolated without the page lock (``PageIsolated``, ``test_bit``) is no data race:
        ``Page.isolated`` is ``atomic=``, and the write is a declared step of its own on the
        descriptor's flags part, so the search orders it against such a test (red team round
        8: a ``free_zspage`` leaving a zspage with an isolated page to the worker, correct,
        was a data race it could not fix, and its isolated branch never ran)."""
        yield page.flags.access(write=True, marked=True)
        page.isolated = True

    def folio_clear_isolated(self, page):
        """``folio_clear_isolated`` (``clear_bit``), under the page lock: see
        :meth:`folio_set_isolated`."""
        yield page.flags.access(write=True, marked=True)
        page.isolated = False

    def _folio_test_movable(self, page):
        """``__folio_test_movable`` (``__PageMovable`` before folios; protocol §2.5): the
        movable bit of the mapping pointer, tested without the page lock.  A declared read
        of the descriptor, marked (``Page.movable`` is ``atomic=``: the kernel's lockless
        test of a word its writers store whole): it races only with a write of
        ``movable`` that is undeclared."""
        yield page.desc.access(marked=True)
        return page.movable

    def alloc_migration_target(self):
        """The core's ``get_new_folio`` callback (``alloc_migration_target``): a fresh page
        (refcount 1), not yet zsmalloc's (plain).  The pool's ghost list records it for
        the page-leak end check."""
        self.made += 1
        page = new_page(f"{self.tag}new{self.made}")
        self.pool.ghost_pages.append(page)
        return page

    def get_new_folio(self):
        """``get_new_folio(src, private)`` as ``migrate_folio_unmap`` calls it (protocol
        §2.5): the target page, or None when the page allocator fails (fault injection,
        :meth:`~model.alloc.Allocation.should_fail`)."""
        if (yield from self.should_fail("newpage")):
            return None
        return self.alloc_migration_target()

    def migrate_pages(self, page, mode="sync"):
        """mm/migrate.c ``migrate_pages`` for one isolated movable page (protocol §2.5).

        Returns the new page on success, else None.  No new page (``-ENOMEM``): the
        page stays on the caller's list, which puts it back
        (``putback_movable_pages``).  If only the core's reference is left the page
        was freed from under it; otherwise lock the page (``MIGRATE_SYNC``: may sleep;
        ``mode="async"``, ``MIGRATE_ASYNC``: trylock, and on failure free the new page
        and ``putback_movable_pages``) and the new page; if the page is no longer
        movable its zspage was freed meanwhile: done.  Else ``zs_page_migrate``; on
        success drop the old page; on failure free the new page and
        ``putback_movable_pages``.  (6.15's ``migrate_folio_unmap`` tests the refcount
        before it allocates; the model allocates first, as it always did: the outcome
        of a freed page is the same, put back or done, it is freed.)
        """
        newpage = yield from self.get_new_folio()
        if newpage is None:
            yield from self.putback_movable_pages(page)
            return None
        ref = yield page.ref.read()
        if ref == 1:        # "Folio was freed from under us. So we are done."
            # A racing isolate_movable_page may still look (under the page lock):
            # so the flag is cleared under it too (unmap_and_move: lock_page,
            # __ClearPageIsolated if no longer movable, unlock_page).
            yield from self.zpdesc_lock(page)
            if not page.movable:
                yield from self.folio_clear_isolated(page)
            yield from self.zpdesc_unlock(page)
            yield from self.zpdesc_put(page)
            yield from self.zpdesc_put(newpage)
            return None
        if mode == "sync":
            yield from self.zpdesc_lock(page)
        elif not (yield from self.zpdesc_trylock(page)):
            yield from self.zpdesc_put(newpage)
            yield from self.putback_movable_pages(page)
            return None
        if not (yield from self.zpdesc_trylock(newpage)):
            raise Bug(f"migrate_pages: the new page {newpage.name} is locked by someone")
        moved = False
        if not page.movable:       # released after isolation: nothing to migrate
            rc = MIGRATEPAGE_SUCCESS
        else:
            rc = yield from self.zs_page_migrate(newpage, page)
            moved = rc == MIGRATEPAGE_SUCCESS
        if rc == MIGRATEPAGE_SUCCESS:
            yield from self.folio_clear_isolated(page)
        yield from self.zpdesc_unlock(newpage)
        yield from self.zpdesc_unlock(page)
        if rc == MIGRATEPAGE_SUCCESS:
            yield from self.zpdesc_put(page)
            yield from self.zpdesc_put(newpage)
            return newpage if moved else None
        yield from self.zpdesc_put(newpage)
        yield from self.putback_movable_pages(page)
        return None

    def putback_movable_pages(self, page):
        """mm/migrate.c ``putback_movable_pages`` for one page: lock it, ``zs_page_putback``
        if still movable, clear PG_isolated, unlock, drop the core's reference.
        (protocol §2.5)
        """
        yield from self.zpdesc_lock(page)
        if page.movable:
            yield from self.zs_page_putback(page)
        yield from self.folio_clear_isolated(page)
        yield from self.zpdesc_unlock(page)
        yield from self.zpdesc_put(page)
