"""__zs_compact: when the source's write trylock fails, forget it before leaving the loop
("src was not touched, nothing to put back"):

    if (!zspage_write_trylock(src_zspage)) {
            src_zspage = NULL;
            break;
    }

Decided before running zsmc: a REAL BUG.  §2.4 step 2b: isolate_src_zspage *removed* src from
its fullness list (remove_zspage); step c: "failure (a reader holds it) -> break (src still
isolated, fixed up after the loop)" by step 3's putback.  With src = NULL the zspage stays on
no list with its objects in use (I5): zs_free of one of its objects runs fix_fullness_group
on an off-list zspage (remove_zspage's VM_BUG_ON or list corruption), and it is never
compacted or freed again.
"""
from checker import cond_resched, label
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_INUSE_RATIO_100


class CompactTrylockFailDropsSrc(Upstream):
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
                src = None
                break
            yield from self.migrate_zspage(src, dst)
            yield from self.zspage_write_unlock(src)
            fg = yield from self.putback_zspage(cls, src)
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
