"""__zs_compact: "free the emptied src first, then put back what is left" -- free_zspage(src)
before putback_zspage(src), on an isolated (off-list) zspage (§2.4 f)."""
from checker import cond_resched, label
from model import Upstream
from model.pool import ZS_INUSE_RATIO_100


class CompactFreeBeforePutback(Upstream):
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
            yield src.obj.access()
            if src.inuse == 0:
                yield from self.free_zspage(cls, src)
                freed += cls.pages_per_zspage
            else:
                yield from self.putback_zspage(cls, src)
            src = None
            yield dst.obj.access()
            if self.get_fullness_group(cls, dst) == ZS_INUSE_RATIO_100:
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
