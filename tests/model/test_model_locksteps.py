"""The lock steps of each operation, per version, match zsmalloc-protocol.md.

Each operation runs alone; its ACQUIRE/TRYLOCK/RELEASE events (by lock class,
``(R)`` for the shared side) are compared with a sequence built from the
protocol doc: the zspage-lock primitives of section 1 ((a) rwlock, (b) atomic
counter with a lockdep map, (c) spinlock + counter with a lockdep map) and
the per-operation step lists of section 2, whose nesting section 3's table
summarises (page lock -> pool->lock -> class->lock -> zspage lock).
"""

from __future__ import annotations

import pytest
from model_helpers import run_alone, zspages

from model import VERSIONS
from model.pool import ZS_MM_RO
from model.roles import read_object, write_object

POOL = {"upstream": "pool->lock", "v5": "pool->lock", "legacy": "pool->migrate_lock"}
PAGE_LOCK = "page lock"

# Section 1: the zspage lock primitives, as lock events.
ZR = {"upstream": ["acquire zspage->lock (R)", "acquire zsl->lock", "release zsl->lock"],
      "v5": ["acquire zspage->lock (R)"],
      "legacy": ["acquire zspage->lock (R)"]}
ZRU = {"upstream": ["release zspage->lock", "acquire zsl->lock", "release zsl->lock"],
       "v5": ["release zspage->lock"],
       "legacy": ["release zspage->lock"]}
# Writers: (c) returns from the trylock holding zsl->lock; (b) disables preemption;
# (a) takes the rwlock blocking (migrate_write_lock).
ZWT = {"upstream": ["acquire zsl->lock", "trylock zspage->lock"],
       "v5": ["trylock zspage->lock"],
       "legacy": ["acquire zspage->lock"]}
ZWU = {"upstream": ["release zspage->lock", "release zsl->lock"],
       "v5": ["release zspage->lock"],
       "legacy": ["release zspage->lock"]}


def R(v):
    return [f"acquire {POOL[v]} (R)"]


def W(v):
    return [f"acquire {POOL[v]}"]


def unlock_pool(v):
    return [f"release {POOL[v]}"]


S = ["acquire class->lock"]
US = ["release class->lock"]
TRYLOCK_ZSPAGE = [f"trylock {PAGE_LOCK}"] * 2           # trylock_zspage: every page of the chain
FREE_PAGES = [f"release {PAGE_LOCK}"] * 2               # __free_zspage unlocks each page


def expected(v: str, op: str) -> list:
    """Section 2's step lists as lock events."""
    if op == "malloc-existing":                         # 2.1 steps 4-5
        return S + US
    if op == "malloc-new":                              # 2.1 steps 4, 6-7 (SetZsPageMovable)
        return S + US + S + [f"trylock {PAGE_LOCK}", f"release {PAGE_LOCK}"] * 2 + US
    if op == "free":                                    # 2.2: hand-over-hand pool R -> class
        return R(v) + S + unlock_pool(v) + US
    if op == "free-last":                               # 2.2 step 7: free_zspage under class
        return R(v) + S + unlock_pool(v) + TRYLOCK_ZSPAGE + FREE_PAGES + US
    if op in ("read", "write"):                         # 2.3: pool R only for the lookup
        return R(v) + ZR[v] + unlock_pool(v) + ZRU[v]
    if op == "compact":                                 # 2.4 with dst filling up once
        return (W(v) + S + ZWT[v] + ZWU[v] + TRYLOCK_ZSPAGE + FREE_PAGES
                + US + unlock_pool(v) + W(v) + S + US + unlock_pool(v))
    if op == "migrate":                                 # 2.5 with the core around it
        core_isolate = [f"trylock {PAGE_LOCK}", f"release {PAGE_LOCK}"]
        core_lock = [f"acquire {PAGE_LOCK}", f"trylock {PAGE_LOCK}"]     # old page, then new page
        zs = W(v) + S + ZWT[v] + unlock_pool(v) + US + ZWU[v]          # step 9: non-LIFO release
        return core_isolate + core_lock + zs + [f"release {PAGE_LOCK}"] * 2
    if op == "async-free":                              # 2.6: splice, lock_zspage, free
        return S + US + ZR[v] + TRYLOCK_ZSPAGE + ZRU[v] + S + FREE_PAGES + US
    raise AssertionError(op)


def _body(op):
    def body(zs, h):
        api = zs.APIS[0]
        if op == "malloc-existing" or op == "malloc-new":
            handle = yield from zs.zs_malloc(3, "n")
            zs.pool.ghost_handles["n"] = handle
            zs.pool.ghost_values["n"] = None
        elif op == "free":
            zs.pool.ghost_handles.pop("a")
            yield from zs.zs_free(h["a"])
        elif op == "free-last":
            zs.pool.ghost_handles.pop("c0.a")
            yield from zs.zs_free(h["c0.a"])
        elif op == "read":
            yield from read_object(zs, h["c0.a"], api)
        elif op == "write":
            yield from write_object(zs, h["c0.a"], "w", api)
        elif op == "compact":
            yield from zs.zs_compact()
        elif op == "migrate":
            page = zspages(zs.pool)["zs2"].first
            assert (yield from zs.isolate_movable_page(page))
            yield from zs.migrate_pages(page)
        elif op == "async-free":
            yield from zs.async_free_zspage()
    return body


OPS = ["malloc-existing", "malloc-new", "free", "free-last", "read", "write", "compact", "migrate",
       "async-free"]


@pytest.mark.parametrize("version", list(VERSIONS))
@pytest.mark.parametrize("op", OPS)
def test_lock_steps_match_the_protocol(version, op):
    pool = (("a", "b"),) if op in ("malloc-new", "free") else None
    kwargs = {"pool": pool} if pool else {}
    _, result, rec = run_alone(VERSIONS[version], _body(op), pending=op == "async-free", **kwargs)
    assert result.complete and not result.violations, [v.render() for v in result.violations]
    assert rec.lock_steps() == expected(version, op)


@pytest.mark.parametrize("version", ["v5", "legacy"])
def test_map_api_lock_steps_and_local_lock(version):
    """(a)/(b) zs_map_object .. zs_unmap_object: pool R for the lookup, zspage R held,
    local_lock (preempt_disable on !RT) from after the lookup to before ZRU."""
    from checker import actions as A

    def body(zs, h):
        yield from zs.zs_map_object(h["c0.a"], ZS_MM_RO)
        yield from zs.zs_unmap_object(h["c0.a"])

    _, result, rec = run_alone(VERSIONS[version], body)
    assert not result.violations
    assert rec.lock_steps() == R(version) + ZR[version] + unlock_pool(version) + ZRU[version]
    ops = [e.action.op for e in rec.events]
    pd, pe = ops.index(A.PREEMPT_DISABLE), ops.index(A.PREEMPT_ENABLE)
    releases = [i for i, e in enumerate(rec.events) if e.action.op == A.RELEASE]
    assert releases[0] < pd < pe < releases[-1]       # after R(pool) is dropped, before ZRU ends


def test_v5_writer_is_atomic_exactly_while_it_holds_the_write_side():
    from checker import actions as A

    def body(zs, h):
        yield from zs.zs_compact()

    _, result, rec = run_alone(VERSIONS["v5"], body)
    assert not result.violations
    evs = rec.events
    pd = next(i for i, e in enumerate(evs) if e.action.op == A.PREEMPT_DISABLE)
    assert evs[pd + 1].action.op == A.CMPXCHG and evs[pd + 1].result == 0       # 0 -> -1
    assert evs[pd + 2].action.op == A.TRYLOCK and evs[pd + 2].action.obj.cls == "zspage->lock"
    pe = next(i for i, e in enumerate(evs) if e.action.op == A.PREEMPT_ENABLE)
    assert evs[pe - 1].action.op == A.WRITE and evs[pe - 1].action.arg == 0     # store 0, then enable


def test_failed_writer_trylock_undoes_itself_in_each_version():
    """A reader holds the zspage: compaction's (b)/(c) trylock fails and it backs off."""
    for version in ("upstream", "v5"):
        def body(zs, h):
            zs2 = zspages(zs.pool)["zs2"]
            yield from zs.zspage_read_lock(zs2)
            freed = yield from zs.zs_compact()
            yield from zs.zspage_read_unlock(zs2)
            return freed

        box, result, rec = run_alone(VERSIONS[version], body)
        assert box["ret"] == 0 and not result.violations
        failed_trylock = ["acquire zsl->lock", "release zsl->lock"] if version == "upstream" else []
        assert rec.lock_steps() == (ZR[version] + W(version) + S + failed_trylock + US
                                    + unlock_pool(version) + ZRU[version])
        assert box["pool"].consistency_problems() == []
        assert sorted(zspages(box["pool"])) == ["zs1", "zs2", "zs3"]
