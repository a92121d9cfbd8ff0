"""zs_free: when free_zspage cannot trylock every page, kick_deferred_free() is done by
zs_free after spin_unlock(&class->lock) ("schedule_work outside the spinlock"): free_zspage
now returns whether it freed and no longer kicks.  Moving the kick itself would be fine
(the empty zspage is on the 0% list before the unlock), but the patch forgets free_zspage's
other caller: __zs_compact frees an emptied src with free_zspage and ignores the result, so
a src whose page the migration core holds stays empty on the 0% list with no work pending.
A real bug: a caller missed by a refactoring (§2.4 f, §2.6, I7; bug 7's symptom)."""
from checker import label
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_OBJS_INUSE


class KickAfterClassUnlock(Upstream):
    def free_zspage(self, cls, zspage):
        yield zspage.obj.access()
        if not (yield from self.trylock_zspage(zspage)):
            return False
        yield from self.remove_zspage(cls, zspage)
        yield from self._free_zspage(cls, zspage)
        return True

    def zs_free(self, handle):
        pool = self.pool
        yield pool.lock.acquire(shared=True)
        yield label("zs_free")
        obj = yield from self.handle_to_obj(handle)
        zspage = yield from self.get_zspage(self.obj_to_zpdesc(obj))
        cls = zspage.cls
        yield cls.lock.acquire()
        yield pool.lock.release()
        yield from self.class_stat_sub(cls, ZS_OBJS_INUSE, 1)
        yield from self.obj_free(cls, obj)
        fullness = yield from self.fix_fullness_group(cls, zspage)
        kick = fullness == ZS_INUSE_RATIO_0 and not (yield from self.free_zspage(cls, zspage))
        yield cls.lock.release()
        if kick:
            yield from self.kick_deferred_free()
        yield from self.cache_free_handle(handle)
