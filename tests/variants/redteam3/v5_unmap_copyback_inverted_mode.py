"""v5 __zs_unmap_object: the mode test inverted while converting to a switch (copy the
per-CPU buffer back *only* for ZS_MM_RO, skip it otherwise).  A write through the map API to
a spanning object never reaches the pages, and a read-only mapping writes the buffer back
(harmless while the buffer holds what was read).  A real bug: §2.3 (a) step 6 ("spanning
-> unless read-only mode, copy vm_buf back to both pages")."""
from model import V5
from model.pool import ZS_MM_RO


class V5UnmapCopybackInvertedMode(V5):
    def _zs_unmap_object(self, area, pages, idx):
        mm = yield area.vm_mm.read()
        if mm != ZS_MM_RO:
            return
        value = yield area.vm_buf.read()
        for p in pages:
            yield p.obj.access(write=True)
            p.mem[("data", idx)] = value
