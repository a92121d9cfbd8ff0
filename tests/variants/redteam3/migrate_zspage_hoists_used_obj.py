"""migrate_zspage: `used_obj = handle_to_obj(handle)` hoisted out of the loop into the first
iteration ("read the source location once, then walk it").  The first object moves right;
from the second object on, zs_object_copy copies the first object's slot again and obj_free
frees it a second time, while the real source slot stays allocated with a handle that now
points into dst.  A real bug: §2.4 d (per object: find_alloced_obj, obj_malloc, copy,
obj_free of *that* object)."""
from model import Upstream


class MigrateZspageHoistsUsedObj(Upstream):
    def migrate_zspage(self, src, dst):
        cls = src.cls
        s_page = yield from self.get_first_zpdesc(src)
        obj_idx = 0
        used_obj = None
        while True:
            handle, obj_idx = yield from self.find_alloced_obj(cls, s_page, obj_idx)
            if handle is None:
                s_page = yield from self.get_next_zpdesc(s_page)
                if s_page is None:
                    break
                obj_idx = 0
                continue
            if used_obj is None:
                used_obj = yield from self.handle_to_obj(handle)
            free_obj = yield from self.obj_malloc(dst, handle)
            yield from self.zs_object_copy(cls, free_obj, used_obj)
            obj_idx += 1
            yield from self.obj_free(cls, used_obj)
            yield dst.obj.access()
            if dst.inuse == cls.objs_per_zspage:
                break
            yield src.obj.access()
            if src.inuse == 0:
                break
