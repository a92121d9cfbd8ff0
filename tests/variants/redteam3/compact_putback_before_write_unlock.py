"""__zs_compact: src is put back on its fullness list before ZWU(src) (putback first, then
unlock, then the free test).  Both run under pool->lock W and class->lock, so nobody can
see the list or the zspage lock's state change in between; free_zspage still runs after the
unlock.  Not a bug (§2.4 steps e-f, I2, I5)."""
from checker import cond_resched, label
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_INUSE_RATIO_100


class CompactPutbackBeforeWriteUnlock(Upstream):
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
            fg = yield from self.putback_zspage(cls, src)
            yield from self.zspage_write_unlock(src)
            if fg == ZS_INUSE_RATIO_0:
                yield from self.free_zspage(cls, src)
                freed += cls.pages_per_zspage
            src = None
            yield dst.obj.access()
            if (self.get_fullness_group(cls, dst) == ZS_INUSE_RATIO_100
                    or self.rwlock_is_contended(pool.lock)):
                yield from self.putback_zspage(cls, dst)
                dst = None
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
