"""kick_deferred_free: `if (!work_pending(&pool->free_work)) schedule_work(...)` -- read the
pending bit and set it only when clear, as two steps ("skip the atomic when already
queued").  NOT a bug: a pending work item has not started, and it will take class->lock
(which the caller of free_zspage holds) before splicing the 0% list, so it sees the zspage
the caller just left there (§2.6 kick_deferred_free, I7); if the worker clears the bit in
between, it too runs async_free_zspage after the caller's class->lock is released."""
from model import Upstream


class KickDeferredFreeIfIdle(Upstream):
    def kick_deferred_free(self):
        pending = yield self.pool.free_work.read()
        if not pending:
            yield self.pool.free_work.write(True)
