"""insert_zspage: list_add_tail instead of list_add (older kernels put a zspage at the tail
unless it was fuller than the head).  Only which zspage of a list is picked first changes,
under the same class->lock: not a bug (§2.1 step 5, I5/I6 hold either way)."""
from model import Upstream


class InsertZspageAtTail(Upstream):
    def insert_zspage(self, cls, zspage, fullness):
        yield cls.obj.access(write=True)
        cls.stats[fullness] += 1
        cls.fullness_list[fullness].append(zspage)
        yield zspage.obj.access(write=True)
        zspage.list = fullness
        zspage.fullness = fullness
