"""get_fullness_group derived from the ratio alone ("cleanup: one computation instead of two
special cases"): ratio = 100 * inuse / objs_per_zspage; ratio 0 -> ZS_INUSE_RATIO_0, ratio 100
-> ZS_INUSE_RATIO_100, else ratio / 10 + 1.

Decided before running zsmc: a REAL BUG.  The kernel tests inuse == 0 and inuse == objs
exactly; the integer ratio is 0 for any inuse < objs/100 (one object out of 127 in a small
class -- the case the kernel's own comment in get_fullness_group names).  Such a zspage,
holding a live object, goes on the 0% list: zs_free's fix_fullness_group returns 0% and calls
free_zspage with inuse != 0, and async_free_zspage splices and frees it with the object still
in use (protocol "Terminology": 0% and 100% are exact groups; §2.1 step 5 insert/fix
fullness; §2.2 step 7 "If the zspage became 0% full -> free_zspage"; §2.6 step 1; I4
"__free_zspage only with inuse == 0"; I5).  For objs_per_zspage <= 100 the function is
identical to the base, so the bug needs a class with more than 100 objects per zspage.
"""
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_INUSE_RATIO_100


class FullnessRatioOnly(Upstream):
    def get_fullness_group(self, cls, zspage) -> int:
        ratio = 100 * zspage.inuse // cls.objs_per_zspage
        if ratio == 0:
            return ZS_INUSE_RATIO_0
        if ratio == 100:
            return ZS_INUSE_RATIO_100
        return ratio // 10 + 1
