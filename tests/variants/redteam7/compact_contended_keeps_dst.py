"""__zs_compact: the resched block split in two ("a full dst only needs to go back on its
list; a contended pool->lock is what needs the unlock, and keeping a half-full dst across
it saves re-isolating one")::

    if (zspage_full(class, dst_zspage)) {
        putback_zspage(class, dst_zspage);
        dst_zspage = NULL;
    }
    if (rwlock_is_contended(&pool->lock)) {
        spin_unlock(&class->lock);
        write_unlock(&pool->lock);
        cond_resched();
        write_lock(&pool->lock);
        spin_lock(&class->lock);
    }

Verdict from the protocol before running zsmc: a REAL BUG (§4 #22: "Releasing class->lock
while zspages are isolated ... drop class->lock (e.g. at cond_resched) while src/dst are
off-list"; §2.4 h: the cond_resched runs with "nothing isolated").  When pool->lock is
contended and dst is not full, dst stays isolated (off every list) across the unlock:
zs_free of an object in dst runs fix_fullness_group on an off-list zspage (list corruption,
VM_BUG_ON in remove_zspage), zs_malloc cannot find dst's free slots.
"""
from checker import cond_resched, label
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_INUSE_RATIO_100


class CompactContendedKeepsDst(Upstream):
    def _zs_compact(self, cls):
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
            yield dst.obj.access()
            if self.get_fullness_group(cls, dst) == ZS_INUSE_RATIO_100:
                yield from self.putback_zspage(cls, dst)
                dst = None
            if self.rwlock_is_contended(pool.lock):
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
