"""Every kernel function of issue 3 is a generator method of the versions that have it."""

from __future__ import annotations

import inspect
import re

import pytest

from model import VERSIONS

COMMON = [
    "zs_malloc", "zs_free", "obj_malloc", "obj_free", "fix_fullness_group", "insert_zspage",
    "remove_zspage", "free_zspage", "_free_zspage", "trylock_zspage", "lock_zspage",
    "kick_deferred_free", "async_free_zspage", "zs_compact", "_zs_compact", "migrate_zspage",
    "isolate_src_zspage", "isolate_dst_zspage", "putback_zspage", "zs_page_isolate", "zs_page_migrate",
    "zs_page_putback", "zspage_read_lock", "zspage_read_unlock",
]
OBJ_API = ["zs_obj_read_begin", "zs_obj_read_end", "zs_obj_write"]
MAP_API = ["zs_map_object", "zs_unmap_object", "_zs_map_object", "_zs_unmap_object"]
WRITER_TRYLOCK = ["zspage_write_trylock", "zspage_write_unlock"]
LEGACY_LOCK = ["migrate_read_lock", "migrate_read_unlock", "migrate_write_lock", "migrate_write_unlock"]

HAS = {
    "upstream": COMMON + OBJ_API + WRITER_TRYLOCK,
    "v5": COMMON + OBJ_API + MAP_API + WRITER_TRYLOCK,
    "legacy": COMMON + MAP_API + LEGACY_LOCK,
}
HAS_NOT = {
    "upstream": MAP_API + LEGACY_LOCK,
    "v5": LEGACY_LOCK,
    "legacy": OBJ_API + WRITER_TRYLOCK,
}


@pytest.mark.parametrize("version", list(VERSIONS))
def test_kernel_functions_are_generator_methods(version):
    cls = VERSIONS[version]
    for name in HAS[version]:
        fn = getattr(cls, name, None)
        assert inspect.isgeneratorfunction(fn), f"{version}.{name}"
        assert re.search(r"§|\b[12]\.\d|\([abc]\)", fn.__doc__ or ""), f"{name} cites no protocol section"
    for name in HAS_NOT[version]:
        assert not hasattr(cls, name), f"{version} should not have {name}"
    assert cls.APIS == tuple(a for a in ("obj", "map") if (a == "obj" and "zs_obj_write" in HAS[version])
                             or (a == "map" and "zs_map_object" in HAS[version]))


def test_an_override_changes_every_caller():
    """Internal calls go through self: overriding remove_zspage changes zs_free, compaction, ..."""
    from model_helpers import run_alone

    calls = []

    class Spy(VERSIONS["upstream"]):
        def remove_zspage(self, cls, zspage):
            calls.append(zspage.name)
            yield from super().remove_zspage(cls, zspage)

    def body(zs, h):
        zs.pool.ghost_handles.pop("c0.a")
        yield from zs.zs_free(h["c0.a"])          # fix_fullness_group + free_zspage
        yield from zs.zs_compact()

    _, result, _ = run_alone(Spy, body)
    assert not result.violations
    assert calls.count("zs2") == 2 and "zs1" in calls
