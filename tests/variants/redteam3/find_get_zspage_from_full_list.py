"""find_get_zspage: the scan starts at ZS_INUSE_RATIO_100 instead of 99 (an off-by-one in
the loop bound).  A full zspage on the 100% list is then returned first, and obj_malloc pops
from its empty free list.  A real bug: §2.1 step 4 (99% down to 0%)."""
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_INUSE_RATIO_100


class FindGetZspageFromFullList(Upstream):
    def find_get_zspage(self, cls):
        yield cls.obj.access()
        for fg in range(ZS_INUSE_RATIO_100, ZS_INUSE_RATIO_0 - 1, -1):
            lst = cls.fullness_list[fg]
            if lst:
                return lst[0]
        return None
