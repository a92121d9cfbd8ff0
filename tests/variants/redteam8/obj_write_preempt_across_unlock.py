"""zs_obj_write: the preempt_disable() of obj_write_halves_preempt_disabled.py, extended
over the read unlock ("re-enable preemption only when we are completely done")::

    +   preempt_disable();
        memcpy_to_page(zpdesc_page(zpdesc), off, handle_mem, sizes[0]);
        zpdesc = get_next_zpdesc(zpdesc);
        memcpy_to_page(zpdesc_page(zpdesc), 0, handle_mem + sizes[0], sizes[1]);
        zspage_read_unlock(zspage);
    +   preempt_enable();

Verdict from the protocol before running zsmc: a REAL BUG on PREEMPT_RT only.  6.15's
zspage_read_unlock takes zsl->lock (§1 c), a spinlock_t: on !RT spinning and harmless under
preempt_disable, on RT an rt_mutex-based sleeping lock, so taking it inside an explicit
preempt_disable() is "sleeping function called from invalid context" (hazard 26: "acquire a
sleeping-on-RT lock inside an explicit preempt-disabled region").  Upstream --config rt,
up-clients or any scenario with a write of a spanning object: sleep-in-atomic; clean on !RT.
"""
from checker import preempt_disable, preempt_enable
from model import Upstream


class ObjWritePreemptAcrossUnlock(Upstream):
    def zs_obj_write(self, handle, value):
        zspage, page, idx, pins = yield from self._lookup_and_read_lock(handle, "zs_obj_write")
        _, _, spans = zspage.cls.geometry.location(idx)
        if not spans:
            yield page.obj.access(write=True, marked=False)
            page.mem[("data", idx)] = value
            for o in reversed(pins):
                yield o.unpin()
            yield from self.zspage_read_unlock(zspage)
            return
        yield preempt_disable()
        yield page.obj.access(write=True, marked=False)
        page.mem[("data", idx)] = value
        nxt = yield from self.get_next_zpdesc(page)
        yield nxt.obj.access(write=True, marked=False)
        nxt.mem[("data", idx)] = value
        for o in reversed(pins):
            yield o.unpin()
        yield from self.zspage_read_unlock(zspage)
        yield preempt_enable()
