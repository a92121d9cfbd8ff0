"""zs_free: "don't trylock pages under the class lock": remember that the zspage became
empty, drop class->lock, and take it again to free the zspage.  The emptiness is cached
across the unlock; zs_malloc may reuse the empty zspage (find_get_zspage includes 0%), or the
worker may splice it (§2.2 step 7, §2.6)."""
from checker import label
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_OBJS_INUSE


class FreeRelockForFreeZspage(Upstream):
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
        yield cls.lock.release()
        if fullness == ZS_INUSE_RATIO_0:
            yield cls.lock.acquire()
            yield from self.free_zspage(cls, zspage)
            yield cls.lock.release()
        yield from self.cache_free_handle(handle)
