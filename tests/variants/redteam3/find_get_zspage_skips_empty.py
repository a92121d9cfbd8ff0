"""find_get_zspage: the scan stops at ZS_INUSE_RATIO_10 ("never reuse a zspage awaiting the
deferred free").  zs_malloc then builds a new zspage instead; the empty one is still freed
by the worker or the next zs_free path.  Worse memory use, no locking change: not a bug
(§2.1 step 4 describes the reuse as allowed, not required)."""
from model import Upstream
from model.pool import ZS_INUSE_RATIO_10, ZS_INUSE_RATIO_99


class FindGetZspageSkipsEmpty(Upstream):
    def find_get_zspage(self, cls):
        yield cls.obj.access()
        for fg in range(ZS_INUSE_RATIO_99, ZS_INUSE_RATIO_10 - 1, -1):
            lst = cls.fullness_list[fg]
            if lst:
                return lst[0]
        return None
