"""legacy __zs_unmap_object: the `if (area->vm_mm == ZS_MM_RO) goto out` test dropped
("always write the buffer back; it is what we read").  NOT a bug: a read-only mapping's
vm_buf holds exactly the bytes read from the two pages under the zspage read lock, which
still excludes every mover, and only the handle's owner writes its object (caller
contract), so the copy-back rewrites the same bytes (§2.3 a steps 4 and 6)."""
from model import Legacy


class LegacyUnmapAlwaysCopiesBack(Legacy):
    def _zs_unmap_object(self, area, pages, idx):
        value = yield area.vm_buf.read()
        for p in pages:
            yield p.obj.access(write=True)
            p.mem[("data", idx)] = value
