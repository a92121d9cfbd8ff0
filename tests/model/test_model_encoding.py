"""What a handle encodes lives in the kernel's own helpers (issue 17 part 2):
``location_to_obj``, ``obj_to_location``, ``obj_to_zpdesc``, ``handle_to_obj``,
``record_obj``.  A patch that changes the encoding overrides those and nothing else."""

from __future__ import annotations

import pytest

from checker import explore
from model.registry import SCENARIOS, make_build
from model.versions import Upstream


class TaggedEncoding(Upstream):
    """Another packing of the word: the index first, the page second, and a tag bit
    (``OBJ_ALLOCATED_TAG`` style) that every decode must strip."""

    def location_to_obj(self, page, idx):
        return ("obj", idx, page, idx & 1)

    def obj_to_location(self, obj):
        return obj[2], obj[1]


@pytest.mark.parametrize("name", [n for n, s in SCENARIOS.items() if s.default])
def test_an_encoding_change_alone_checks_clean(name):
    for cpus in SCENARIOS[name].counts:
        build, _ = make_build(TaggedEncoding, name, 1, cpus)
        r = explore(build, stop_on_violation=False)
        assert r.complete and not r.violations, (name, cpus, r.violations[:1])


def test_the_encoding_is_really_used():
    build, _ = make_build(TaggedEncoding, "read-compact", 1)
    program = build()
    words = [h.word.value for h in program.context.ghost_handles.values()]
    assert words and all(w[0] == "obj" and len(w) == 4 for w in words)
