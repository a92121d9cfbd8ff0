"""zs_obj_read_begin: the read-side LRU hint of read_begin_lru_unlocked.py, done under
class->lock ("the lists are class->lock's: take it for the move")::

        zspage_read_lock(zspage);
        read_unlock(&pool->lock);

    +   class = zspage_class(pool, zspage);
    +   spin_lock(&class->lock);
    +   list_move(&zspage->list, &class->fullness_list[zspage->fullness]);
    +   spin_unlock(&class->lock);

Verdict from the protocol before running zsmc: NOT A BUG on 6.15 (upstream).  Under
class->lock the zspage is on the list of its fullness: compaction keeps zspages isolated
only while it holds class->lock without a break (§2.4, hazard 22), migration never takes a
zspage off its list, and the free worker only takes empty zspages (a reader's zspage holds
its object).  The new nesting, class->lock inside the zspage read lock, is the reverse of
the documented order (§3), but on 6.15 writers only trylock the zspage lock (rules 1-5 of
§3) and the reader holds no spinlock while it waits for class->lock (only the count), so no
cycle can wait: compaction's trylock fails and it puts its zspages back; lockdep records no
class->lock -> zspage->lock edge (the writer's acquisition is a trylock).  Sleeping on RT in
class->lock is allowed for a reader (§1 c: readers may sleep).  Its legacy twin
(legacy_map_lru_locked.py) deadlocks.  A correct twin.
"""
from model import Upstream
from model.access import Mem
from model.page_memory import object_value


class ReadBeginLruLocked(Upstream):
    def zs_obj_read_begin(self, handle):
        zspage, page, idx, pins = yield from self._lookup_and_read_lock(handle, "zs_obj_read_begin")
        cls = zspage.cls
        yield cls.lock.acquire()
        yield zspage.obj.access(marked=False)
        fg = zspage.fullness
        yield cls.obj.access(write=True, marked=False)
        lst = cls.fullness_list[fg]
        lst.remove(zspage)
        lst.insert(0, zspage)
        yield cls.lock.release()
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
