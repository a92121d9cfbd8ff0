"""Handle encoding: OBJ_INDEX_BITS computed for two objects per zspage (one bit), so an index
of 2 or more aliases a lower one when a class has more objects (§Terminology, obj encoding)."""
from model import Upstream


class ObjIndexMask(Upstream):
    def location_to_obj(self, page, idx):
        return (page, idx & 1)
