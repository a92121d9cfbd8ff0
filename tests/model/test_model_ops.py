"""Each version's operations run alone produce the pool state the kernel would.

The default pool (model.scenarios.DEFAULT_POOL): zs1 = [x.b, free] and
zs2 = [free, c0.a] on the 50% list (zs1 at the head), zs3 empty on the 0%
list.  Object 0 lies in page 0, object 1 spans pages 0 and 1.
"""

from __future__ import annotations

import pytest
from model_helpers import run_alone, zspages

from model import VERSIONS
from model.page_memory import object_value
from model.pool import (
    DEFERRED,
    ZS_INUSE_RATIO_0,
    ZS_INUSE_RATIO_100,
    ZS_MM_RO,
    ZS_MM_WO,
    ZS_OBJS_ALLOCATED,
    ZS_OBJS_INUSE,
)
from model.roles import load, read_object, write_object

ALL = list(VERSIONS.values())
HALF = 6        # the fullness group of a zspage holding 1 object of 2


def clean(box, result):
    """No violation of any property, and the pool is consistent and intact."""
    assert result.complete and result.executions == 1, result.summary()
    assert not result.violations, [v.render() for v in result.violations]
    pool = box["pool"]
    assert pool.consistency_problems() == []
    assert pool.integrity_problems() == []


def lists(pool, cls=0):
    return {fg: [z.name for z in lst] for fg, lst in enumerate(pool.size_class[cls].fullness_list) if lst}


@pytest.mark.parametrize("variant", ALL, ids=list(VERSIONS))
def test_fresh_pool_is_consistent_and_shaped_as_documented(variant):
    box, result, _ = run_alone(variant, lambda zs, h: iter(()), pending=True)
    pool = box["pool"]
    clean(box, result)
    assert lists(pool) == {ZS_INUSE_RATIO_0: ["zs3"], HALF: ["zs1", "zs2"]}
    stats = pool.size_class[0].stats
    assert (stats[ZS_OBJS_ALLOCATED], stats[ZS_OBJS_INUSE]) == (6, 2)
    g = pool.size_class[0].geometry
    assert g.objs_per_zspage == 2 and g.location(0) == (0, 0, False) and g.location(1) == (0, 3, True)
    assert pool.lock.name == variant.POOL_LOCK


@pytest.mark.parametrize("variant", ALL, ids=list(VERSIONS))
def test_zs_malloc_fills_the_head_zspage_of_the_fullest_list(variant):
    def body(zs, h):
        handle = yield from zs.zs_malloc(3, "new")
        zs.pool.ghost_handles["new"] = handle
        yield from write_object(zs, handle, "v", zs.APIS[0])
        return handle

    box, result, _ = run_alone(variant, body)
    clean(box, result)
    pool, handle = box["pool"], box["ret"]
    z = zspages(pool)
    page, idx = handle.word.value
    assert (page.name, idx) == ("zs1.p0", 1)
    assert page.mem[("hdr", 1)] == ("alloc", handle)
    assert z["zs1"].inuse == 2 and z["zs1"].freeobj is None
    assert lists(pool) == {ZS_INUSE_RATIO_0: ["zs3"], HALF: ["zs2"], ZS_INUSE_RATIO_100: ["zs1"]}
    stats = pool.size_class[0].stats
    assert (stats[ZS_OBJS_ALLOCATED], stats[ZS_OBJS_INUSE]) == (6, 3)
    # the spanning object's bytes are in both pages
    assert object_value((page.mem[("data", 1)], page.next.mem[("data", 1)])) == "v"


@pytest.mark.parametrize("variant", ALL, ids=list(VERSIONS))
def test_zs_malloc_allocates_a_movable_zspage_when_all_are_full(variant):
    def body(zs, h):
        handle = yield from zs.zs_malloc(3, "new")
        zs.pool.ghost_handles["new"] = handle
        yield from write_object(zs, handle, "v", zs.APIS[0])
        return handle

    box, result, rec = run_alone(variant, body, pool=(("a", "b"),))
    clean(box, result)
    pool, handle = box["pool"], box["ret"]
    z = zspages(pool)
    assert sorted(z) == ["t.zs1", "zs1"]
    new = z["t.zs1"]
    assert handle.word.value == (new.first, 0)
    assert new.inuse == 1 and new.freeobj == 1 and new.list == HALF
    assert all(p.movable and p.zsmalloc and p.zspage is new for p in new.pages())
    assert not any(p.lock.writer is not None for p in new.pages())
    stats = pool.size_class[0].stats
    assert (stats[ZS_OBJS_ALLOCATED], stats[ZS_OBJS_INUSE]) == (4, 3)
    assert pool.pages_allocated == 4
    assert ("zs_malloc", None) in rec.labels


@pytest.mark.parametrize("variant", ALL, ids=list(VERSIONS))
def test_zs_free_of_the_last_object_frees_the_zspage_and_its_pages(variant):
    def body(zs, h):
        zs.pool.ghost_handles.pop("c0.a")
        yield from zs.zs_free(h["c0.a"])

    box, result, _ = run_alone(variant, body)
    clean(box, result)
    pool, h = box["pool"], box["handles"]
    assert sorted(zspages(pool)) == ["zs1", "zs3"]
    assert lists(pool) == {ZS_INUSE_RATIO_0: ["zs3"], HALF: ["zs1"]}
    stats = pool.size_class[0].stats
    assert (stats[ZS_OBJS_ALLOCATED], stats[ZS_OBJS_INUSE]) == (4, 1)
    assert pool.pages_allocated == 4
    assert not h["c0.a"].obj.alive
    assert pool.free_work.value is False


@pytest.mark.parametrize("variant", ALL, ids=list(VERSIONS))
def test_zs_free_defers_when_a_page_is_locked_and_the_worker_frees_later(variant):
    seen = {}

    def body(zs, h):
        zs2 = zspages(zs.pool)["zs2"]
        page = zs2.first.next
        yield from zs.zpdesc_lock(page)             # as the migration core would
        zs.pool.ghost_handles.pop("c0.a")
        yield from zs.zs_free(h["c0.a"])
        seen["list"], seen["pending"] = zs2.list, zs.pool.free_work.value
        seen["alive"] = zs2.obj.alive
        yield from zs.zpdesc_unlock(page)
        yield from zs.async_free_zspage()
        return zs2

    box, result, _ = run_alone(variant, body)
    clean(box, result)
    assert seen == {"list": ZS_INUSE_RATIO_0, "pending": True, "alive": True}
    pool, zs2 = box["pool"], box["ret"]
    assert not zs2.obj.alive and not any(p.obj.alive for p in zs2.pages())
    assert sorted(zspages(pool)) == ["zs1"]            # the worker also freed zs3
    assert lists(pool) == {HALF: ["zs1"]}
    stats = pool.size_class[0].stats
    assert (stats[ZS_INUSE_RATIO_0], stats[ZS_OBJS_ALLOCATED], stats[ZS_OBJS_INUSE]) == (0, 2, 1)
    assert pool.deferred == []


@pytest.mark.parametrize("variant", ALL, ids=list(VERSIONS))
def test_the_free_worker_splices_the_empty_list_and_frees_it(variant):
    def body(zs, h):
        zs3 = zspages(zs.pool)["zs3"]
        pages = zs3.pages()
        yield from zs.async_free_zspage()
        return zs3, pages

    box, result, rec = run_alone(variant, body, pending=True)
    clean(box, result)
    zs3, pages = box["ret"]
    assert not zs3.obj.alive and zs3.list is not DEFERRED
    assert all(not p.obj.alive and p.zspage is None for p in pages)
    assert box["pool"].size_class[0].stats[ZS_INUSE_RATIO_0] == 0
    # lock_zspage locked both pages under the zspage read lock, __free_zspage unlocked them
    steps = rec.lock_steps()
    assert steps.count("trylock page lock") == 2 and steps.count("release page lock") == 2


@pytest.mark.parametrize("variant", ALL, ids=list(VERSIONS))
def test_compaction_moves_the_object_and_frees_the_source(variant):
    def body(zs, h):
        zs2 = zspages(zs.pool)["zs2"]
        freed = yield from zs.zs_compact()
        return freed, zs2

    box, result, _ = run_alone(variant, body)
    clean(box, result)
    (freed, zs2), pool, h = box["ret"], box["pool"], box["handles"]
    assert freed == 2
    assert not zs2.obj.alive and not any(p.obj.alive for p in zs2.pages())
    z = zspages(pool)
    assert sorted(z) == ["zs1", "zs3"]
    page, idx = h["c0.a"].word.value
    assert page.zspage is z["zs1"] and idx == 1
    assert object_value((page.mem[("data", 1)], page.next.mem[("data", 1)])) == "c0.a=init"
    assert h["x.b"].word.value == (z["zs1"].first, 0)
    assert lists(pool) == {ZS_INUSE_RATIO_0: ["zs3"], ZS_INUSE_RATIO_100: ["zs1"]}
    assert pool.compaction_in_progress.value == 0


@pytest.mark.parametrize("variant", ALL, ids=list(VERSIONS))
@pytest.mark.parametrize("which", [0, 1])
def test_migration_replaces_a_page_and_rewrites_handles(variant, which):
    def body(zs, h):
        zs2 = zspages(zs.pool)["zs2"]
        old = zs2.pages()[which]
        assert (yield from zs.isolate_movable_page(old))
        new = yield from zs.migrate_pages(old)
        return zs2, old, new

    box, result, _ = run_alone(variant, body)
    clean(box, result)
    zs2, old, new = box["ret"]
    h = box["handles"]
    pages = zs2.pages()
    assert pages[which] is new and old not in pages
    assert not old.obj.alive and old.zspage is None
    assert new.zspage is zs2 and new.movable and new.zsmalloc and not new.isolated
    assert new.ref.value == 1 and new.lock.writer is None
    assert zs2.first is pages[0] and pages[0].next is pages[1] and pages[1].next is None
    # c0.a starts in page 0: its handle follows page 0; its bytes span both pages
    assert h["c0.a"].word.value == (pages[0], 1)
    assert object_value((pages[0].mem[("data", 1)], pages[1].mem[("data", 1)])) == "c0.a=init"


@pytest.mark.parametrize("variant", ALL, ids=list(VERSIONS))
def test_migration_of_a_freed_page_is_a_no_op(variant):
    def body(zs, h):
        zs3 = zspages(zs.pool)["zs3"]
        page = zs3.first
        assert (yield from zs.isolate_movable_page(page))
        yield from zs.async_free_zspage()     # frees zs3 while its page is isolated
        return page, (yield from zs.migrate_pages(page))

    box, result, _ = run_alone(variant, body, pending=True)
    clean(box, result)
    page, new = box["ret"]
    assert new is None and not page.obj.alive and not page.isolated


def _api_variants():
    return [(v, api) for v in ALL for api in v.APIS]


@pytest.mark.parametrize("variant,api", _api_variants(),
                         ids=[f"{v.NAME}-{a}" for v, a in _api_variants()])
@pytest.mark.parametrize("key", ["x.b", "c0.a"])     # in-page and spanning
def test_write_then_read_round_trips_through_each_api(variant, api, key):
    def body(zs, h):
        yield from write_object(zs, h[key], "hello", api)
        yield from read_object(zs, h[key], api)

    box, result, rec = run_alone(variant, body)
    clean(box, result)
    assert ("load", {"key": key, "value": "hello"}) in rec.labels
    assert box["zs"].mapped == {}            # every mapping ended


@pytest.mark.parametrize("variant", [v for v in ALL if "map" in v.APIS], ids=lambda v: v.NAME)
def test_map_of_a_spanning_object_goes_through_the_per_cpu_area(variant):
    def body(zs, h):
        mem = yield from zs.zs_map_object(h["c0.a"], ZS_MM_RO)
        kind = mem.kind
        value = yield from load(mem)
        yield from zs.zs_unmap_object(h["c0.a"])
        mem = yield from zs.zs_map_object(h["x.b"], ZS_MM_WO)
        yield from zs.zs_unmap_object(h["x.b"])
        return kind, value, mem.kind

    box, result, _ = run_alone(variant, body)
    clean(box, result)
    assert box["ret"] == ("area", "c0.a=init", "page")
    area = box["pool"].map_area[0]
    assert area.vm_buf.value == "c0.a=init" and area.vm_mm.value == ZS_MM_WO
