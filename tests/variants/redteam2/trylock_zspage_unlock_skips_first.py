"""trylock_zspage: the failure path that unlocks the already-locked prefix starts from
get_next_zpdesc(first) ("the loop already stepped past the first page") instead of the
first page.  When the second page's trylock fails, the first page stays locked by zs_free:
a page lock leaked (lock balance), and the zspage can then never be trylocked again by
free_zspage nor migrated.  A real bug: an off-by-one in an unwind (§2.6 trylock_zspage "on
failure unlock the prefix")."""
from model import Upstream


class TrylockZspageUnlockSkipsFirst(Upstream):
    def trylock_zspage(self, zspage):
        fail = None
        cursor = yield from self.get_first_zpdesc(zspage)
        while cursor is not None:
            if not (yield from self.zpdesc_trylock(cursor)):
                fail = cursor
                break
            cursor = yield from self.get_next_zpdesc(cursor)
        if fail is None:
            return True
        cursor = yield from self.get_first_zpdesc(zspage)
        cursor = yield from self.get_next_zpdesc(cursor)
        while cursor is not fail and cursor is not None:
            yield from self.zpdesc_unlock(cursor)
            cursor = yield from self.get_next_zpdesc(cursor)
        return False
