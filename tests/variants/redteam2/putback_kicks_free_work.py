"""zs_page_putback: if the zspage became empty while its page was isolated, kick the free
work (pre-5.17 putback_zspage_deferred, Henry Burns 2019 / Hui Zhu 2017), done under
class->lock.  NOT a bug: an extra schedule_work is harmless -- the worker splices only the
0% list, under class->lock -- and the read of inuse is under the lock that orders it
(§2.5 zs_page_putback, §2.6, I7)."""
from checker import Bug
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0


class PutbackKicksFreeWork(Upstream):
    def zs_page_putback(self, page):
        if not page.isolated:
            raise Bug(f"zs_page_putback: VM_BUG_ON_PAGE(!PageIsolated({page.name}))")
        zspage = yield from self.get_zspage(page)
        cls = zspage.cls
        yield cls.lock.acquire()
        yield zspage.obj.access()
        if self.get_fullness_group(cls, zspage) == ZS_INUSE_RATIO_0:
            yield from self.kick_deferred_free()
        yield cls.lock.release()
