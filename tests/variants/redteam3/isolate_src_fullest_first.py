"""isolate_src_zspage: the lists are scanned from 99% down to 10% (the fullest zspage is
taken as source, "fewer zspages to touch").  Compaction may then move fewer objects per
pass, and migrate_zspage stops when dst is full, leaving a partly emptied src that is put
back on its list: a policy change under the same locks.  Not a bug (§2.4 b-d, f)."""
from model import Upstream
from model.pool import ZS_INUSE_RATIO_10, ZS_INUSE_RATIO_99


class IsolateSrcFullestFirst(Upstream):
    def isolate_src_zspage(self, cls):
        yield cls.obj.access()
        for fg in range(ZS_INUSE_RATIO_99, ZS_INUSE_RATIO_10 - 1, -1):
            lst = cls.fullness_list[fg]
            if lst:
                zspage = lst[0]
                yield from self.remove_zspage(cls, zspage)
                return zspage
        return None
