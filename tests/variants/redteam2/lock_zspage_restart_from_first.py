"""lock_zspage: after waiting for a busy non-first page, restart the whole walk from the
first page ("simpler than resuming from curr") -- without unlocking the pages already
locked.  The restart trylocks the first page, which this task itself holds, fails, and
sleeps in folio_wait_locked on its own page lock: the worker never wakes.  A real bug:
a retry that does not undo (§2.6 lock_zspage step 2, "retry from curr")."""
from model import Upstream


class LockZspageRestartFromFirst(Upstream):
    def lock_zspage(self, zspage):
        while True:
            yield from self.zspage_read_lock(zspage)
            page = yield from self.get_first_zpdesc(zspage)
            if not (yield from self.zpdesc_trylock(page)):
                yield from self.zpdesc_get(page)
                yield from self.zspage_read_unlock(zspage)
                yield from self.zpdesc_wait_locked(page)
                yield from self.zpdesc_put(page)
                continue
            curr = page
            restart = False
            while True:
                page = yield from self.get_next_zpdesc(curr)
                if page is None:
                    break
                if (yield from self.zpdesc_trylock(page)):
                    curr = page
                    continue
                yield from self.zpdesc_get(page)
                yield from self.zspage_read_unlock(zspage)
                yield from self.zpdesc_wait_locked(page)
                yield from self.zpdesc_put(page)
                restart = True
                break
            if not restart:
                break
        yield from self.zspage_read_unlock(zspage)
