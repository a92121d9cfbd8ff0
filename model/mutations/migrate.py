"""Mutations of zs_page_migrate: a side effect before the trylock commit point (section 2.5;
catalogue #17).

See :mod:`model.mutations` for the conventions.
"""

from __future__ import annotations

from checker import Bug, label

from ..migrate import EINVAL, MIGRATEPAGE_SUCCESS
from ..versions import Upstream
from ._register import _mutation


# -- #17 side effect before the trylock commit point ---------------------------------------
@_mutation("migrate-rewrites-before-trylock", "upstream", "pool-consistency",
           "Yosry Ahmed's review of v5 of 'zsmalloc/zram: there be preemption', Feb 2025",
           "zs_page_migrate rewrites the handles to newpage before ZWT, then fails with -EINVAL")
class MigrateRewritesBeforeTrylock(Upstream):
    """Hazard #17 (section 4): a failed ``zs_page_migrate`` leaves the handles pointing at
    ``newpage``, which the migration core then frees: the reader uses a freed page.

    Must violate: ``pool-consistency``, found in scenario ``up-read-migrate`` at depth 1.
    """

    def zs_page_migrate(self, newpage, page):
        """``zs_page_migrate`` (2.5 c) with the copy and handle rewrite before ``ZWT``."""
        zspage = yield from self.get_zspage(page)
        if not page.isolated:
            raise Bug(f"zs_page_migrate: VM_BUG_ON_PAGE(!zpdesc_is_isolated({page.name}))")
        pool = self.pool
        yield pool.lock.acquire()
        yield label("zs_page_migrate")
        cls = zspage.cls
        yield cls.lock.acquire()
        yield newpage.desc.access(write=True, marked=False)
        newpage.zsmalloc = True
        yield from self.copy_page_and_rewrite_handles(newpage, page)   # the bug: too early
        if not (yield from self.zspage_write_trylock(zspage)):
            yield cls.lock.release()
            yield pool.lock.release()
            return -EINVAL
        yield from self.replace_sub_page(cls, zspage, newpage, page)
        yield pool.lock.release()
        yield cls.lock.release()
        yield from self.zspage_write_unlock(zspage)
        yield from self.zpdesc_get(newpage)
        yield from self.reset_zpdesc(page)
        yield from self.zpdesc_put(page)
        return MIGRATEPAGE_SUCCESS
