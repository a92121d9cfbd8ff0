"""find_get_zspage remembers the zspage it returned last time, per size class, and tries it
first on the next allocation (a "current zspage" as SLAB had a current slab):

    static struct zspage *last_zspage[ZS_SIZE_CLASSES];   /* function-local static */

    zspage = last_zspage[class->index];
    if (zspage && zspage->fullness != ZS_INUSE_RATIO_100 && zspage->fullness != ZS_INUSE_RATIO_0)
            return zspage;
    ... list scan ...;  last_zspage[class->index] = zspage;

A C function-local ``static`` is written the Python way, as a default argument
(``_last={}``): initialised once, kept across calls.

Verdict decided from the protocol document before running zsmc: REAL BUG.
Nothing clears the pointer when that zspage is freed: zs_free of its last object
(§2.2 step 7) or compaction emptying it as a source (§2.4 d, f) frees the struct
(cache_free_zspage), and the next zs_malloc reads ``zspage->fullness`` of freed memory:
a use after free (bug #11's invariant: after free_zspage no reference to that zspage
survives).  A live remembered zspage may also be isolated by compaction or held by the
free worker, lists the fast path bypasses (§2.4 a-b, §2.6 step 1, I5).
"""
from model import Upstream
from model.pool import ZS_INUSE_RATIO_0, ZS_INUSE_RATIO_99, ZS_INUSE_RATIO_100


class MallocLastZspageDefaultArg(Upstream):
    def find_get_zspage(self, cls, _last={}):
        zspage = _last.get(cls.index)
        if zspage is not None:
            yield zspage.obj.access()
            if zspage.fullness not in (ZS_INUSE_RATIO_100, ZS_INUSE_RATIO_0) \
                    and isinstance(zspage.list, int):
                return zspage
        yield cls.obj.access()
        for fg in range(ZS_INUSE_RATIO_99, ZS_INUSE_RATIO_0 - 1, -1):
            lst = cls.fullness_list[fg]
            if lst:
                _last[cls.index] = lst[0]
                return lst[0]
        return None
