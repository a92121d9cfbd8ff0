"""6.15 (c) zs_obj_write: cond_resched() between the two halves of a spanning object ("a
large copy; let others run")::

    memcpy_to_page(zpdesc_page(zpdesc), off, handle_mem, sizes[0]);
    cond_resched();                                           /* added */
    zpdesc = get_next_zpdesc(zpdesc);
    memcpy_to_page(zpdesc_page(zpdesc), 0, handle_mem + sizes[0], sizes[1]);

Verdict from the protocol before running zsmc: NOT A BUG.  zs_obj_write holds only the zspage
read lock while it copies (§2.3 c step 2: "Copy into the page ... Preemptible"), and readers
may sleep holding it (§3 rules 4-5); writers (migration, compaction) only trylock it and
back off.  The chain walk to the second page stays under the read lock (§4 #24).  Concurrent
data access to the same object is the caller's to serialise (§2.3 note).  zs_obj_write is not
called from atomic context (only zs_free is, §3).
"""
from checker import Bug, cond_resched
from model import Upstream


class ObjWriteReschedBetweenHalves(Upstream):
    def zs_obj_write(self, handle, value):
        zspage, page, idx, pins = yield from self._lookup_and_read_lock(handle, "zs_obj_write")
        _, _, spans = zspage.cls.geometry.location(idx)
        yield page.obj.access(write=True)
        page.mem[("data", idx)] = value
        if spans:
            yield cond_resched()
            nxt = yield from self.get_next_zpdesc(page)
            if nxt is None:
                raise Bug(f"zs_obj_write: {page.name} has no next page for a spanning object")
            yield nxt.obj.access(write=True)
            nxt.mem[("data", idx)] = value
        for o in reversed(pins):
            yield o.unpin()
        yield from self.zspage_read_unlock(zspage)
