"""isolate_dst_zspage scans down to the 0% list ("an empty zspage awaiting the deferred free
is the best destination: filling it saves freeing it and allocating a new one later", as
zs_malloc's find_get_zspage reuses it)::

    for (fg = ZS_INUSE_RATIO_99; fg >= ZS_INUSE_RATIO_0; fg--) {   /* was: >= ZS_INUSE_RATIO_10 */

Verdict from the protocol before running zsmc: NOT A BUG.  §2.1 step 4: zs_malloc already
reuses 0% zspages ("an empty zspage awaiting deferred free can be reused"), so a 0% zspage on
a class list is a legal allocation target under class->lock.  Compaction holds class->lock
from isolation to putback (§4 #22), so the free worker's splice (under class->lock, §2.6 step
1) sees the zspage on its list either before the isolation or after the putback, never
missing from it; zspages the worker already spliced are on no class list and cannot be
isolated.  A dst that stays empty (the source's trylock fails, or no source) goes back on
the 0% list still covered by the free work that was kicked when it became empty (I7).
The estimate (zs_can_compact) and the move are unchanged: src is still 10%..99%.
"""
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_INUSE_RATIO_99


class IsolateDstFromEmpty(Upstream):
    def isolate_dst_zspage(self, cls):
        yield cls.obj.access()
        for fg in range(ZS_INUSE_RATIO_99, ZS_INUSE_RATIO_0 - 1, -1):
            lst = cls.fullness_list[fg]
            if lst:
                zspage = lst[0]
                yield from self.remove_zspage(cls, zspage)
                return zspage
        return None
