"""free_zspage: remove_zspage hoisted before trylock_zspage ("take it off the list first so
nobody picks it while we lock its pages").  When a trylock fails the zspage is already off
every list: kick_deferred_free wakes a worker that splices the 0% list and never finds it,
so the empty zspage is never freed and the 0% count is off by one.  A real bug: §2.2 step 7
("the zspage stays on the 0% list"), I5/I6, I7, bug 7's symptom."""
from model import Upstream
from checker import Bug


class FreeZspageRemoveBeforeTrylock(Upstream):
    def free_zspage(self, cls, zspage):
        yield zspage.obj.access()
        if zspage.inuse:
            raise Bug(f"free_zspage: VM_BUG_ON(get_zspage_inuse({zspage.name}))")
        yield from self.remove_zspage(cls, zspage)
        if not (yield from self.trylock_zspage(zspage)):
            yield from self.kick_deferred_free()
            return
        yield from self._free_zspage(cls, zspage)
