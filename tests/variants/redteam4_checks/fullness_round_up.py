"""get_fullness_group rounding up ("a zspage exactly half full belongs in the 50% group, not
the 60% one"): ratio = DIV_ROUND_UP(100 * inuse, objs); group = DIV_ROUND_UP(ratio, 10),
keeping the exact 0% and 100% tests.

Decided before running zsmc: NOT A BUG.  The groups between 0% and 100% are a compaction
heuristic (protocol "Terminology": lists "ratio 0%, 10%, ..., 99%, 100%"; §2.4 step 2
"zs_can_compact (estimate ...)"); the rules are that 0% and 100% are exact (kept here: inuse
== 0 and inuse == objs are tested first) and that a zspage sits on the list its *own*
get_fullness_group says, every move going through insert/remove_zspage with the stats (I5,
I6).  Any monotone map of 1..99 onto groups 10%..99% keeps I5/I6 and every lock rule.  For
1 <= inuse < objs <= 100, ratio is in 1..99 and the group in 1..10 (never 0% nor 100%).
"""
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_INUSE_RATIO_100


class FullnessRoundUp(Upstream):
    def get_fullness_group(self, cls, zspage) -> int:
        inuse = zspage.inuse
        objs = cls.objs_per_zspage
        if inuse == 0:
            return ZS_INUSE_RATIO_0
        if inuse == objs:
            return ZS_INUSE_RATIO_100
        ratio = (100 * inuse + objs - 1) // objs
        return (ratio + 9) // 10
