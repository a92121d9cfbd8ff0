"""migrate_zspage: obj_free(src) before zs_object_copy ("free the slot as soon as the handle
points at dst").  obj_free writes the free-list link into the object's first word, which
zs_object_copy then copies into dst's header (§2.4 d)."""
from model import Upstream


class CompactFreeBeforeCopy(Upstream):
    def migrate_zspage(self, src, dst):
        cls = src.cls
        s_page = yield from self.get_first_zpdesc(src)
        obj_idx = 0
        while True:
            handle, obj_idx = yield from self.find_alloced_obj(cls, s_page, obj_idx)
            if handle is None:
                s_page = yield from self.get_next_zpdesc(s_page)
                if s_page is None:
                    break
                obj_idx = 0
                continue
            used_obj = yield from self.handle_to_obj(handle)
            free_obj = yield from self.obj_malloc(dst, handle)
            obj_idx += 1
            yield from self.obj_free(cls, used_obj)
            yield from self.zs_object_copy(cls, free_obj, used_obj)
            yield dst.obj.access()
            if dst.inuse == cls.objs_per_zspage:
                break
            yield src.obj.access()
            if src.inuse == 0:
                break
