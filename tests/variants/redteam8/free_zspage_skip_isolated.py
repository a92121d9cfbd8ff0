"""free_zspage: leave a zspage one of whose pages the migration core has isolated to the
worker, without trying its page locks ("the core is about to lock that page; don't fight
for it from atomic context")::

     static void free_zspage(struct zs_pool *pool, struct size_class *class,
                             struct zspage *zspage)
     {
    +        struct zpdesc *zpdesc;
    +
             VM_BUG_ON(get_zspage_inuse(zspage));
             VM_BUG_ON(list_empty(&zspage->list));
    +        for (zpdesc = get_first_zpdesc(zspage); zpdesc; zpdesc = get_next_zpdesc(zpdesc)) {
    +                if (PageIsolated(zpdesc_page(zpdesc))) {
    +                        kick_deferred_free(pool);
    +                        return;
    +                }
    +        }
             if (!trylock_zspage(zspage)) {
                     kick_deferred_free(pool);
                     return;
             }

Verdict from the protocol before running zsmc: NOT A BUG.  The chain walk is under
class->lock (hazard 24 allows it; §2.6 trylock_zspage walks the same way).  PG_isolated is
the migration core's flag, set and cleared under the page lock with atomic bitops
(SetPageIsolated/ClearPageIsolated are set_bit/clear_bit, PageIsolated test_bit: marked
accesses, no data race for KCSAN) **(inferred from page-flags.h's PAGEFLAG(Isolated, ...))**;
whatever value is read, the zspage stays on the 0% list with the work kicked (I7 holds, as
on the trylock-failure path, §2.2 step 7), or is trylocked as before.  Upstream, free-migrate
and migrate-single (a free emptying a zspage whose page migration isolated).  A correct twin.
"""
from checker import Bug
from model import Upstream


class FreeZspageSkipIsolated(Upstream):
    def free_zspage(self, cls, zspage):
        yield zspage.obj.access(marked=False)
        if zspage.inuse:
            raise Bug(f"free_zspage: VM_BUG_ON(get_zspage_inuse({zspage.name}))")
        if zspage.list is None:
            raise Bug(f"free_zspage: VM_BUG_ON(list_empty(&{zspage.name}->list))")
        page = yield from self.get_first_zpdesc(zspage)
        while page is not None:
            yield page.desc.access(marked=True)         # PageIsolated(): test_bit
            if page.isolated:
                yield from self.kick_deferred_free()
                return
            page = yield from self.get_next_zpdesc(page)
        if not (yield from self.trylock_zspage(zspage)):
            yield from self.kick_deferred_free()
            return
        yield from self.remove_zspage(cls, zspage)
        yield from self._free_zspage(cls, zspage)
