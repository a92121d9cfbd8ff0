"""zs_obj_read_begin: keep recently read zspages at the head of their fullness list, so that
zs_malloc (which takes the list head) fills hot zspages first ("read-side LRU hint")::

        zspage_read_lock(zspage);
        read_unlock(&pool->lock);

    +   /* hint: a zspage being read is hot; move it to the head of its list */
    +   list_move(&zspage->list, &class->fullness_list[zspage->fullness]);
    +
        class = zspage_class(pool, zspage);
        off = offset_in_page(class->size * obj_idx);

Verdict from the protocol before running zsmc: a REAL BUG, catalogue #9 ("zsmalloc: move
LRU update from zs_map_object() to zs_malloc()", d461aac924b9): "the read/access path must
not modify class-level list state".  The reader holds only the zspage read lock (§2.3 c
step 5); the fullness lists are class->lock's (§1 a), which zs_malloc, zs_free and
compaction hold while they change them, so the list_move is a plain read-modify-write of
the list racing with theirs (data-race); and compaction isolates the reader's zspage as
its source (off every list) before its trylock fails on the reader (§2.4 b, c): list_move
of an isolated zspage re-links it behind compaction's back, which then puts it back a
second time (list corruption, pool-consistency).  Upstream, read-compact and clients.
"""
from model import Upstream
from model.access import Mem
from model.page_memory import object_value


class ReadBeginLruUnlocked(Upstream):
    def zs_obj_read_begin(self, handle):
        zspage, page, idx, pins = yield from self._lookup_and_read_lock(handle, "zs_obj_read_begin")
        cls = zspage.cls
        yield zspage.obj.access(marked=False)
        fg = zspage.fullness
        yield cls.obj.access(write=True, marked=False)
        lst = cls.fullness_list[fg]
        if zspage in lst:
            lst.remove(zspage)
        lst.insert(0, zspage)
        _, _, spans = cls.geometry.location(idx)
        if not spans:
            mem = Mem("page", page, idx)
        else:
            yield page.obj.access(marked=False)
            first = page.mem.get(("data", idx))
            nxt = yield from self.get_next_zpdesc(page)
            yield nxt.obj.access(marked=False)
            mem = Mem("copy", value=object_value((first, nxt.mem.get(("data", idx)))))
        self.mapped[handle.key] = pins
        return mem
