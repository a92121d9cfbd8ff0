"""Small kernel accessors shared by every operation (mm/zsmalloc.c helpers).

Each is a generator that declares the memory it touches, so that a version
that drops a lock makes the access race visibly.  ``self`` is the version
object of one task (like ``current`` in the kernel): it carries the task's
CPU and the page locks it holds.
"""

from __future__ import annotations

from checker import Bug
from checker.coverage import op_object

from .pool import ZSPAGE_MAGIC


def _inc_unless_zero(v):
    return v + 1 if v else 0


def _stat_locked(cls, fn: str) -> None:
    """The class stats are ``class->lock``'s (§1 a): an update nobody's class->lock covers is
    a plain read-modify-write racing with every locked one (a lost update KCSAN reports).
    The declared access makes the model's update one step, so the loss itself cannot show;
    this is the check (``lockdep_assert_held``, as ``__free_zspage`` asserts the lock).  Red
    team round 5: an unlocked 0% decrement (redteam/async_free_stat_outside_lock) was found
    only through the 0% count's exact value, which a correct patch may change."""
    if cls.lock.writer is None:
        raise Bug(f"{fn}: class[{cls.index}]->lock is not held: class->stats[] updated by a plain "
                  f"read-modify-write no lock orders against the others (lockdep_assert_held)")


class Memory:
    """Accessors: handles, the page chain, page refcounts and locks, class stats."""

    # -- the location an obj value encodes (the only place that knows how) -----
    def location_to_obj(self, page, idx):
        """``location_to_obj``: the obj value of object ``idx`` starting in ``page``
        (the kernel packs the PFN and the index into one word).  A patch that
        changes the encoding overrides this and :meth:`obj_to_location`, nothing
        else.  (protocol Terminology, §2.1 step 5)"""
        return (page, idx)

    def obj_to_location(self, obj):
        """``obj_to_location``: ``(page, idx)`` from an obj value."""
        return obj[0], obj[1]

    def obj_to_zpdesc(self, obj):
        """``obj_to_zpdesc``: the page an obj value's object starts in."""
        return self.obj_to_location(obj)[0]

    # -- handles ------------------------------------------------------------
    def handle_to_obj(self, handle):
        """``handle_to_obj``: read the location word, ``*(unsigned long *)handle``
        (protocol §2.2 step 3)."""
        return (yield handle.word.read())

    def record_obj(self, handle, obj):
        """``record_obj``: publish a location in the handle word (WRITE_ONCE). (protocol §2.1 step 5)"""
        yield handle.word.write(obj)

    # -- the zspage and its chain -------------------------------------------
    def get_zspage(self, page):
        """``get_zspage``: ``zpdesc->zspage`` with ``BUG_ON(zspage->magic != ZSPAGE_MAGIC)``.
        (protocol §2.2 step 3)"""
        yield page.chain.access(marked=False)
        zspage = page.zspage
        if zspage is None:
            raise Bug(f"get_zspage: {page.name} belongs to no zspage (NULL dereference)")
        yield zspage.obj.access(marked=False)
        if zspage.magic != ZSPAGE_MAGIC:
            raise Bug(f"get_zspage: BUG_ON(zspage->magic != ZSPAGE_MAGIC) for {zspage.name}")
        op_object(zspage)
        return zspage

    def get_first_zpdesc(self, zspage):
        """``get_first_zpdesc``: ``zspage->first_zpdesc``. (protocol §2.6, §4 hazard 24)"""
        yield zspage.obj.access(marked=False)
        op_object(zspage)
        return zspage.first

    def get_next_zpdesc(self, page):
        """``get_next_zpdesc``: the next page of the chain, None after the last.
        (protocol §2.6, §4 hazard 24)"""
        yield page.chain.access(marked=False)
        return page.next

    def reset_zpdesc(self, page):
        """``reset_zpdesc``: clear movable, private, the zspage pointer, next and the page type.
        (protocol §2.2 step 7, §2.5 step 10)"""
        yield page.desc.access(write=True, marked=False)
        page.movable = False
        page.zspage = None
        page.next = None
        page.first = False
        page.zsmalloc = False

    # -- page references and locks -------------------------------------------
    def zpdesc_get(self, page):
        """``zpdesc_get`` (get_page): take a page reference (``atomic_inc``: the
        caller sees no value, so two gets commute). (protocol §2.6)"""
        yield page.ref.add(1)

    def get_page_unless_zero(self, page):
        """``folio_try_get``: take a reference unless the page is free; True if taken. (protocol §2.5)"""
        old = yield page.ref.rmw(_inc_unless_zero)
        return old > 0

    def zpdesc_put(self, page):
        """``zpdesc_put`` (put_page): drop a reference; the last one frees the page.

        ``put_page_testzero`` and the free are one step
        (``Var.add(-1, frees=...)``): the caller sees no value, so two puts
        commute, whichever drops the last reference.  Freeing runs
        ``free_pages_prepare``'s check: a page that still has the zsmalloc
        type or the movable flag is "Bad page state".  A put below zero is
        reported by the engine as a refcount underflow.
        (protocol §2.2 step 7, §2.5 step 10)
        """
        def free_pages_prepare():
            if page.zsmalloc or page.movable:
                raise Bug(f"Bad page state: {page.name} freed while still a "
                          f"{'zsmalloc' if page.zsmalloc else 'movable'} page")
        yield page.ref.add(-1, frees=page.obj, on_free=free_pages_prepare)

    def zpdesc_trylock(self, page):
        """``zpdesc_trylock`` (trylock_page); True if taken. (protocol §2.6)"""
        ok = yield page.lock.try_acquire()
        if ok:
            self.page_locks.append(page)
        return ok

    def zpdesc_lock(self, page):
        """``zpdesc_lock`` / ``folio_lock``: sleep until the page lock is ours. (protocol §2.5)"""
        yield page.lock.acquire()
        self.page_locks.append(page)

    def zpdesc_unlock(self, page):
        """``zpdesc_unlock`` (unlock_page; protocol §2.2 step 7).

        The kernel clears PG_locked whoever set it; the engine ties a lock to
        its holder, so unlocking a page this task did not lock is reported as
        the bug it is.
        """
        if page not in self.page_locks:
            raise Bug(f"unlock_page: {page.name} is not locked by this task")
        self.page_locks.remove(page)
        yield page.lock.release()

    def zpdesc_wait_locked(self, page):
        """``zpdesc_wait_locked`` (``folio_wait_locked``): sleep until the page is unlocked.

        The kernel waits for PG_locked to clear without setting it, so a waiter
        never makes another task's ``trylock_page`` fail (``Lock.wait_unlocked``).
        The waiter must hold a reference: waiting on a page that was freed
        meanwhile is a use after free (bug 3 a of section 4), hence the access
        to the page first.
        """
        yield page.obj.access(marked=False)
        yield page.lock.wait_unlocked()

    # -- class statistics ---------------------------------------------------
    def class_stat_add(self, cls, idx, n):
        """``class_stat_add`` (caller holds ``class->lock``). (protocol Terminology, §4 bug 12)"""
        yield cls.obj.access(write=True, marked=False)
        _stat_locked(cls, "class_stat_add")
        cls.stats[idx] += n

    def class_stat_sub(self, cls, idx, n):
        """``class_stat_sub`` (caller holds ``class->lock``). (protocol Terminology, §4 bug 12)"""
        yield cls.obj.access(write=True, marked=False)
        _stat_locked(cls, "class_stat_sub")
        cls.stats[idx] -= n
