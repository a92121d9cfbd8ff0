"""6.15 (c) zs_obj_read_end re-derives the location under read_lock(&pool->lock) ("never read
the handle without the pool lock")::

    read_lock(&pool->lock);                          /* added */
    obj = handle_to_obj(handle);
    obj_to_location(obj, &zpdesc, &obj_idx);
    zspage = get_zspage(zpdesc);
    read_unlock(&pool->lock);                        /* added */
    ... kunmap_local; zspage_read_unlock(zspage);

Verdict from the protocol before running zsmc: a BUG, as lockdep reports it (no deadlock can
run).  The reader holds the zspage lock's lockdep map (rwsem_acquire_read, a non-recursive
read) and takes pool->lock (R, non-recursive in process context): edge zspage->lock ->
pool->lock.  zs_obj_read_begin takes the zspage read lock under pool->lock (R): edge
pool->lock -> zspage->lock.  Two shared-to-non-recursive edges form a cycle lockdep reports
("possible circular locking dependency").  No real deadlock: writers only trylock (§3 rules
3-5), so a task blocked on pool->lock behind a writer is never waited for by that writer.
Round 5 counted a lockdep splat the patch causes as a bug (redteam5_ctx
zsl_write_lockdep_blocking); same here.
"""
from checker import Bug
from model import Upstream


class ReadEndLookupUnderPoolLock(Upstream):
    def zs_obj_read_end(self, handle, mem):
        pool = self.pool
        yield pool.lock.acquire(shared=True)
        obj = yield from self.handle_to_obj(handle)
        if not obj:
            raise Bug(f"zs_obj_read_end: handle {handle.key} holds no location")
        zspage = yield from self.get_zspage(self.obj_to_zpdesc(obj))
        yield pool.lock.release()
        for o in reversed(self.mapped.pop(handle.key, ())):
            yield o.unpin()
        yield from self.zspage_read_unlock(zspage)
