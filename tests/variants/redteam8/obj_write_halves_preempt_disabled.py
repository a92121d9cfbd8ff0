"""zs_obj_write: copy both halves of a spanning object with preemption disabled ("keep the
two memcpy_to_page on one CPU back to back, so the cache lines stay warm")::

        } else {
                ...
    +           preempt_disable();
                memcpy_to_page(zpdesc_page(zpdesc), off, handle_mem, sizes[0]);
                zpdesc = get_next_zpdesc(zpdesc);
                memcpy_to_page(zpdesc_page(zpdesc), 0, handle_mem + sizes[0], sizes[1]);
    +           preempt_enable();
        }
        zspage_read_unlock(zspage);

Verdict from the protocol before running zsmc: NOT A BUG, on either configuration.  The
section holds the zspage read lock (a count, §1 c) and takes no lock and never sleeps:
memcpy_to_page and get_next_zpdesc (under the read lock, hazard 24) are atomic-safe, and
preemption is enabled again before zspage_read_unlock takes zsl->lock, a sleeping lock on
PREEMPT_RT.  A reader may be atomic while it holds the read lock (rule 4 of §3; the map API
of (a)/(b) is atomic throughout).  A correct twin; obj_write_preempt_across_unlock.py is the
RT bug next to it.
"""
from checker import preempt_disable, preempt_enable
from model import Upstream


class ObjWriteHalvesPreemptDisabled(Upstream):
    def zs_obj_write(self, handle, value):
        zspage, page, idx, pins = yield from self._lookup_and_read_lock(handle, "zs_obj_write")
        _, _, spans = zspage.cls.geometry.location(idx)
        if not spans:
            yield page.obj.access(write=True, marked=False)
            page.mem[("data", idx)] = value
        else:
            yield preempt_disable()
            yield page.obj.access(write=True, marked=False)
            page.mem[("data", idx)] = value
            nxt = yield from self.get_next_zpdesc(page)
            yield nxt.obj.access(write=True, marked=False)
            nxt.mem[("data", idx)] = value
            yield preempt_enable()
        for o in reversed(pins):
            yield o.unpin()
        yield from self.zspage_read_unlock(zspage)
