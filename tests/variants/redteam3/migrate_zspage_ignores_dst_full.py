"""migrate_zspage: the `if (zspage_full(class, dst)) break;` test dropped ("src is chosen
less full than dst, it empties first").  Not so: isolate_src_zspage takes the *first*
zspage of the lowest list, and a src with more objects than dst has free slots moves an
object into a full dst: obj_malloc pops from an empty free list.  A real bug: §2.4 d ("stop
when dst full or src empty")."""
from model import Upstream


class MigrateZspageIgnoresDstFull(Upstream):
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
            yield from self.zs_object_copy(cls, free_obj, used_obj)
            obj_idx += 1
            yield from self.obj_free(cls, used_obj)
            yield src.obj.access()
            if src.inuse == 0:
                break
