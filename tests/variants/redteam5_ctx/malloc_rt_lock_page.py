"""SetZsPageMovable: "on PREEMPT_RT class->lock is a sleeping lock, so wait for the page lock
instead of WARNing when the trylock fails"::

    if (IS_ENABLED(CONFIG_PREEMPT_RT))
            zpdesc_lock(zpdesc);           /* lock_page(), under class->lock */
    else
            WARN_ON(!zpdesc_trylock(zpdesc));

!PREEMPT_RT: the trylock path, unchanged.  PREEMPT_RT: lock_page (a truly sleeping wait, not
an rtmutex) taken while holding class->lock, a spinlock_t: invalid on RT as well ("sleeping
lock types cannot nest inside spinning lock types", locktypes.rst; lockdep's wait-type
check; __might_resched under the RT lock's rcu_read_lock), and against §3's order
(page_lock -> ... -> class->lock): migration's core holds the page lock and waits for
class->lock (isolate_movable_page is a trylock, but migrate_pages' sync lock is not).
Verdict: not a bug on !RT, a real bug on RT.
"""
from checker.config import preempt_rt
from model import Upstream


class MallocRtLockPage(Upstream):
    def SetZsPageMovable(self, zspage):
        page = yield from self.get_first_zpdesc(zspage)
        while page is not None:
            if preempt_rt():
                yield from self.zpdesc_lock(page)
            else:
                locked = yield from self.zpdesc_trylock(page)
                assert locked, f"SetZsPageMovable: WARN_ON(!zpdesc_trylock({page.name}))"
            yield page.desc.access(write=True)
            page.movable = True
            yield from self.zpdesc_unlock(page)
            page = yield from self.get_next_zpdesc(page)
