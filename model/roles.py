"""Task bodies for the scenario roles (ARCHITECTURE.md section 5, issue 3 "Scenarios").

* ``client``: up to ``depth`` operations, each chosen with ``choose()`` from
  its repertoire over the handles it owns: malloc (then write the new object,
  as zram does), write, read and free (:data:`CLIENT_OPS`); a *reader* client
  has only write and read (:data:`READER_OPS`).  A client owns its handles:
  the kernel's caller contract forbids using a handle concurrently with its
  zs_free.
  Data operations are labelled ``store``/``load`` right after the access
  they name (the data-integrity contract).
* ``compaction``: ``zs_compact`` as from the shrinker, ``depth`` rounds.
* ``migration``: ``depth`` rounds of migrating a chosen page through the
  migration core (``isolate_movable_page`` then ``migrate_pages``).
* ``worker``: the ``free_work`` item: each of ``depth`` rounds runs
  ``async_free_zspage`` if the work is pending (test-and-clear of the bit).

Choice values are strings (they go into trace files).
"""

from __future__ import annotations

from checker import Bug, choose, label, might_sleep, traced

from .alloc import IS_ERR_VALUE
from .pool import ZS_MM_RO, ZS_MM_WO, Handle

OBJECT_SIZE = 2         # a client object: 2 units of data + the 1-unit handle header
MAX_LIVE = 2            # handles a client keeps at most (bounds malloc branches)
CLIENT_OPS = ("malloc", "write", "read", "free")
READER_OPS = ("write", "read")


def _clear(v):
    return False


def failed_malloc(h) -> bool:
    """zram's test of what ``zs_malloc`` returned: True for an error code
    (``IS_ERR_VALUE``); a handle is False; anything else is no answer zram can take
    (the kernel's 0, a NULL, is no error code: zram would store through it)."""
    if IS_ERR_VALUE(h):
        return True
    if not isinstance(h, Handle):
        raise Bug(f"zs_malloc returned {h!r}: neither a handle nor an error code (ERR_PTR)")
    return False


def client(zs, depth: int, owned: tuple, api: str, me: str, ops: tuple = CLIENT_OPS):
    """A zsmalloc user (zram): ``depth`` operations from ``ops`` over its live handles.

    ``owned`` are the pool's handles this client starts with; ``api`` is
    ``"obj"`` (zs_obj_read_begin/end, zs_obj_write) or ``"map"``
    (zs_map_object/zs_unmap_object).
    """
    pool = zs.pool
    live = {h.key: h for h in owned}
    unstored = set(live)    # initial objects no store label has announced yet
    made = writes = 0
    for _ in range(depth):
        opts = ["malloc"] if "malloc" in ops and len(live) < MAX_LIVE else []
        for key in live:
            opts.extend(f"{op} {key}" for op in ops if op != "malloc")
        if not opts:        # a reader that owns nothing has nothing to do
            return
        op = opts[0] if len(opts) == 1 else (yield choose(opts))
        verb, _, key = op.partition(" ")
        if verb == "malloc":
            made += 1
            h = yield from zs.zs_malloc(OBJECT_SIZE + 1, f"{me}.h{made}")
            if failed_malloc(h):      # zram: "if (IS_ERR_VALUE(handle))": nothing stored
                continue
            live[h.key] = h
            pool.track_handle(h)
            verb, key = "write", h.key
        if verb == "write":
            writes += 1
            unstored.discard(key)
            yield from write_object(zs, live[key], f"{me}.v{writes}", api)
        elif verb == "read":
            yield from read_object(zs, live[key], api, key in unstored)
            unstored.discard(key)
        elif verb == "free":
            h = live.pop(key)
            pool.ghost_handles.pop(key, None)
            yield from zs.zs_free(h)


def _write_object(zs, h, value, api: str):
    """Store ``value`` in ``h``'s object, then label the store."""
    if api == "obj":
        yield from zs.zs_obj_write(h, value)
    else:
        mem = yield from zs.zs_map_object(h, ZS_MM_WO)
        if mem.kind == "page":
            yield mem.page.obj.access(write=True, marked=False)
            mem.page.mem[("data", mem.idx)] = value
        else:
            yield mem.area.vm_buf.write(value)
        yield from zs.zs_unmap_object(h)
    zs.pool.ghost_values[h.key] = value
    yield label("store", key=h.key, value=value)


def _read_object(zs, h, api: str, initial: bool = False):
    """Load ``h``'s object and label the load (the caller may sleep meanwhile with the obj API).

    ``initial``: no store to ``h`` has been labelled yet, so the load is
    preceded by a store label of the object's initial contents (nobody else
    stores to a client's handle), which lets data-integrity check it.
    """
    if api == "obj":
        mem = yield from zs.zs_obj_read_begin(h)
        value = yield from load(mem)
        yield from _labels(zs, h, value, initial)
        yield might_sleep()     # zram decompresses here: the reader may sleep (section 1 b/c)
        yield from zs.zs_obj_read_end(h, mem)
    else:
        mem = yield from zs.zs_map_object(h, ZS_MM_RO)
        value = yield from load(mem)
        yield from _labels(zs, h, value, initial)
        yield from zs.zs_unmap_object(h)


def _labels(zs, h, value, initial):
    if initial:
        yield label("store", key=h.key, value=zs.pool.initial_values[h.key])
    yield label("load", key=h.key, value=value)


def load(mem):
    """Read through a mapped object (the client's memcpy from the returned pointer)."""
    if mem.kind == "page":
        yield mem.page.obj.access(marked=False)
        return mem.page.mem.get(("data", mem.idx))
    if mem.kind == "area":
        return (yield mem.area.vm_buf.read())
    return mem.value


# A client's read or write section is the "access" operation (checker.coverage).
write_object = traced(_write_object, "write_object", "access")
read_object = traced(_read_object, "read_object", "access")


def compaction(zs, depth: int):
    """The shrinker: ``depth`` calls of ``zs_compact``."""
    for _ in range(depth):
        yield from zs.zs_compact()


def migration(zs, depth: int, targets: tuple, mode: str = "sync"):
    """The migration core: ``depth`` rounds, each migrating one chosen page.

    ``targets`` are the candidate pages (by name); a page this task installed
    by a successful migration becomes a candidate in place of the old one.
    ``mode``: ``"sync"`` or ``"async"`` (see :meth:`model.migrate.Migration.migrate_pages`).
    """
    pages = {p.name: p for p in targets}
    for _ in range(depth):
        names = sorted(pages)
        name = names[0] if len(names) == 1 else (yield choose(names))
        page = pages[name]
        newpage = yield from migrate_page(zs, page, mode)
        if newpage is not None:
            del pages[name]
            pages[newpage.name] = newpage


def _migrate_page(zs, page, mode="sync"):
    """One page through the migration core: isolate it, then migrate it."""
    if not (yield from zs.isolate_movable_page(page)):
        return None
    if mode == "sync":
        return (yield from zs.migrate_pages(page))
    return (yield from zs.migrate_pages(page, mode))


migrate_page = traced(_migrate_page, "migrate_page", "migration")


def worker(zs, depth: int):
    """The ``free_work`` item: each round, if pending (test-and-clear), ``async_free_zspage``."""
    pool = zs.pool
    for _ in range(depth):
        if (yield pool.free_work.rmw(_clear)):
            yield from zs.async_free_zspage()



# -- single operations, for callers that start them one at a time (model.stateful) ----------

def malloc_object(zs, key: str, value, api: str):
    """``zs_malloc`` a client object named ``key`` and store ``value`` in it (as zram
    does after allocating); returns the handle."""
    h = yield from zs.zs_malloc(OBJECT_SIZE + 1, key)
    zs.pool.track_handle(h)
    yield from write_object(zs, h, value, api)
    return h


def free_object(zs, h):
    """``zs_free`` a client's handle (the client forgets it first)."""
    zs.pool.ghost_handles.pop(h.key, None)
    yield from zs.zs_free(h)
