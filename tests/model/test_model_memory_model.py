"""Catalogue #16 (``relaxed-zspage-lock``) under ``--memory-model ra`` (checker.memory_model).

v5's zspage lock names its orderings once (model.zspage_lock.AtomicCountLock); the
mutation weakens the reader side to relaxed, as v4 had it.  Found under ``ra`` only;
v5 as published and 6.15 are silent under ``ra`` on the mutation's scenario, by a
complete dpor search that takes every read-from and mo choice (checked against dfs in
tests/test_engine_differential.py and tests/test_memory_model_oracle.py).
"""

from __future__ import annotations

import pytest

from checker import explore
from checker.atomics import RELAXED
from model.registry import MUTATIONS, make_build, variant_for
from model.versions import VERSIONS

SCENARIO = "write-migrate"


def _run(cls, memory_model, scheduler="dpor", **kw):
    build, params = make_build(cls, SCENARIO, 1, memory_model=memory_model)
    return explore(build, scheduler=scheduler, **kw), params


def test_the_mutation_declares_the_weak_model():
    m = MUTATIONS["relaxed-zspage-lock"]
    assert m.expressible and m.memory_model == "ra" and m.expected_property == "data-race"


def test_the_mutation_is_found_under_ra_with_its_trace_params():
    r, params = _run(variant_for("v5", "relaxed-zspage-lock"), "ra", properties=["data-race"])
    assert params["memory_model"] == "ra"
    assert r.scheduler == "dpor" and not r.note
    [v] = r.violations
    assert v.property == "data-race" and "zs2.p0" in v.message
    assert "client0" in v.message and "migration" in v.message


def test_the_mutation_is_silent_under_sc():
    r, params = _run(variant_for("v5", "relaxed-zspage-lock"), "sc", stop_on_violation=False)
    assert "memory_model" not in params
    assert r.complete and not r.violations, [v.property for v in r.violations]


@pytest.mark.parametrize("version", ["v5", "upstream"])
def test_v5_and_upstream_are_clean_under_ra(version):
    r, _ = _run(VERSIONS[version], "ra", stop_on_violation=False)
    assert r.complete and not r.violations, [(v.property, v.message) for v in r.violations]


@pytest.mark.parametrize("version", ["v5", "upstream"])
def test_random_sampling_of_the_choices_agrees(version):
    r, _ = _run(VERSIONS[version], "ra", scheduler="random", max_executions=300,
                stop_on_violation=False)
    assert not r.complete and not r.violations       # sampled: never "verified"


def test_the_read_unlock_release_alone_is_the_bug():
    """Relaxing only the read unlock is found; relaxing only the read lock's acquire is
    not: the hand-over-hand pool->lock already orders a reader after the writer's
    section (docs/memory-model.md)."""
    class UnlockRelaxed(VERSIONS["v5"]):
        READ_UNLOCK_ORDER = RELAXED

    class LockRelaxed(VERSIONS["v5"]):
        READ_LOCK_ORDER = RELAXED

    r, _ = _run(UnlockRelaxed, "ra", properties=["data-race"])
    assert [v.property for v in r.violations] == ["data-race"]
    r, _ = _run(LockRelaxed, "ra", stop_on_violation=False)
    assert r.complete and not r.violations


def test_the_v5_lock_names_the_kernel_orderings():
    from checker.atomics import ACQUIRE, RELEASE
    lock = VERSIONS["v5"]
    assert (lock.READ_LOCK_ORDER, lock.READ_UNLOCK_ORDER) == (ACQUIRE, RELEASE)
    assert (lock.WRITE_LOCK_ORDER, lock.WRITE_UNLOCK_ORDER) == (ACQUIRE, RELEASE)
