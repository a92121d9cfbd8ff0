"""Fullness groups and the class lists (zsmalloc-protocol.md "Terminology", section 2.1 step 5).

Every function here runs with ``class->lock`` held in the kernel; the
accesses are declared anyway so that a variant that drops the lock races
visibly.
"""

from __future__ import annotations

from checker import Bug
from checker.coverage import op_object

from .pool import DEFERRED, ZS_INUSE_RATIO_0, ZS_INUSE_RATIO_10, ZS_INUSE_RATIO_99, get_fullness_group


class Fullness:
    """insert_zspage, remove_zspage, fix_fullness_group, putback_zspage, find_get_zspage."""

    def get_fullness_group(self, cls, zspage) -> int:
        """``get_fullness_group`` of ``zspage`` (plain: callers have accessed the zspage)."""
        return get_fullness_group(cls, zspage.inuse)

    def insert_zspage(self, cls, zspage, fullness):
        """``insert_zspage``: ``class_stat_add(fullness)``, ``list_add`` at the head, set ``fullness``.
        (protocol §2.1 step 5)"""
        yield cls.obj.access(write=True, marked=False)
        op_object(zspage)
        if fullness == ZS_INUSE_RATIO_0:
            op_object((cls, ZS_INUSE_RATIO_0))      # handed to the free worker (section 2.6)
        cls.stats[fullness] += 1
        cls.fullness_list[fullness].insert(0, zspage)
        yield zspage.obj.access(write=True, marked=False)
        zspage.list = fullness
        zspage.fullness = fullness

    def remove_zspage(self, cls, zspage):
        """``remove_zspage``: ``list_del_init`` and ``class_stat_sub(zspage->fullness)``.

        ``VM_BUG_ON(list_empty(&class->fullness_list[fullness]))`` is a BUG
        (the model is a CONFIG_DEBUG_VM kernel).  ``list_del_init`` unlinks
        the zspage from whatever list it is on, which may not be the list of
        its recorded fullness if a caller got the state wrong.
        (protocol §2.1 step 5, §2.4 a)
        """
        yield zspage.obj.access(write=True, marked=False)
        op_object(zspage)
        fullness = zspage.fullness
        where = zspage.list
        zspage.list = None
        yield cls.obj.access(write=True, marked=False)
        if not cls.fullness_list[fullness]:
            raise Bug(f"remove_zspage: VM_BUG_ON(list_empty(&class->fullness_list[{fullness}])) "
                      f"for {zspage.name}")
        if where == DEFERRED:
            lst = self.pool.deferred
        elif isinstance(where, int):
            lst = cls.fullness_list[where]
        else:
            lst = ()        # already unlinked: list_del_init of a self-linked entry is a no-op
        if zspage in lst:
            lst.remove(zspage)
        cls.stats[fullness] -= 1

    def fix_fullness_group(self, cls, zspage):
        """``fix_fullness_group``: move the zspage to the list its ``inuse`` implies; returns it.
        (protocol §2.1 step 5)"""
        yield zspage.obj.access(marked=False)
        newfg = self.get_fullness_group(cls, zspage)
        if newfg == zspage.fullness:
            return newfg
        yield from self.remove_zspage(cls, zspage)
        yield from self.insert_zspage(cls, zspage, newfg)
        return newfg

    def putback_zspage(self, cls, zspage):
        """``putback_zspage``: insert an isolated zspage into the list of its fullness (2.4 f)."""
        yield zspage.obj.access(marked=False)
        fullness = self.get_fullness_group(cls, zspage)
        yield from self.insert_zspage(cls, zspage, fullness)
        return fullness

    def find_get_zspage(self, cls):
        """``find_get_zspage``: the first zspage on the lists 99% down to 0% inclusive (2.1 step 4)."""
        yield cls.obj.access(marked=False)
        for fg in range(ZS_INUSE_RATIO_99, ZS_INUSE_RATIO_0 - 1, -1):
            if fg == ZS_INUSE_RATIO_0:
                op_object((cls, ZS_INUSE_RATIO_0))  # reuses what awaits the free worker
            lst = cls.fullness_list[fg]
            if lst:
                return lst[0]
        return None

    def isolate_src_zspage(self, cls):
        """``isolate_src_zspage``: first zspage on lists 10% to 99%, removed (2.4 step 2b)."""
        yield cls.obj.access(marked=False)
        for fg in range(ZS_INUSE_RATIO_10, ZS_INUSE_RATIO_99 + 1):
            lst = cls.fullness_list[fg]
            if lst:
                zspage = lst[0]
                yield from self.remove_zspage(cls, zspage)
                return zspage
        return None

    def isolate_dst_zspage(self, cls):
        """``isolate_dst_zspage``: first zspage on lists 99% down to 10%, removed (2.4 step 2a)."""
        yield cls.obj.access(marked=False)
        for fg in range(ZS_INUSE_RATIO_99, ZS_INUSE_RATIO_10 - 1, -1):
            lst = cls.fullness_list[fg]
            if lst:
                zspage = lst[0]
                yield from self.remove_zspage(cls, zspage)
                return zspage
        return None
