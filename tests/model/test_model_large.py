"""The large-pool scenario family (model/large.py, issue 6): builds, parameters, operations,
a clean upstream under the samplers and mutations the samplers find with a fixed seed."""

from __future__ import annotations

import json

import pytest

from checker import Monitor, UsageError, explore
from checker import actions as A
from checker.schedulers.pct import PCT
from checker.schedulers.random import RandomScheduler
from checker.trace import load_trace, make_trace, replay, save_trace
from model import Upstream
from model.large import LARGE, LargeScenario, capacity, large_scenario
from model.registry import (
    MUTATIONS,
    SCENARIOS,
    VERSIONS,
    build_from_params,
    find_scenario,
    make_build,
    variant_for,
)

PARAMS = "large:classes=3,zspages=4,objects=6,tasks=4"
LOADER = "model.registry:build_from_params"


class Labels(Monitor):
    """Every label seen over all executions, and the handle keys of the store/load labels."""

    name = "labels-seen"

    def __init__(self):
        self.seen = set()
        self.keys = set()

    def on_event(self, world, ev):
        if ev.action.op == A.LABEL:
            self.seen.add(ev.action.arg)
            if ev.action.arg in ("store", "load"):
                self.keys.add(ev.action.arg2["key"])


def client_keys(pool):
    return sorted(k for k in pool.ghost_handles if k.startswith("c"))


def test_default_large_scenario_builds_and_is_not_a_default():
    assert SCENARIOS["large"] is LARGE and not LARGE.default
    build, params = make_build(Upstream, "large", 1)
    program = build()
    pool = program.context
    assert params["scenario"] == "large" and params["cpus"] == 2
    assert [c.size for c in pool.size_class] == [3, 4]
    assert [len(c.ghost_zspages) for c in pool.size_class] == [3, 3]
    assert len(client_keys(pool)) == 4                       # objects default: tasks + 1
    roles = [t.role for t in LARGE.tasks]
    assert roles.count("client") == 3 and {"compaction", "migration", "worker"} <= set(roles)
    assert {t.cpu for t in program.specs} == {0, 1}
    assert pool.free_work.value is True and pool.consistency_problems() == []


def test_writers_share_a_cpu_with_clients():
    """The one-CPU preemption hazards (section 4, 13 and 14) need a reader next to a writer."""
    cpu = {t.name: t.slot % 2 for t in LARGE.tasks}
    for writer in ("compaction", "migration"):
        assert any(cpu[t.name] == cpu[writer] for t in LARGE.tasks if t.role == "client"), writer


def test_parameters_shape_the_pool():
    scen = find_scenario(PARAMS)
    assert isinstance(scen, LargeScenario) and scen.name == PARAMS
    build, params = make_build(VERSIONS["v5"], PARAMS, 1)
    assert params["scenario"] == PARAMS and len(params["pool"]["classes"]) == 3
    pool = build().context
    assert [c.size for c in pool.size_class] == [2, 3, 4]
    assert all(len(c.ghost_zspages) == 4 for c in pool.size_class)
    assert len(client_keys(pool)) == 6
    assert sum(t.role == "client" for t in scen.tasks) == 4
    assert pool.consistency_problems() == []
    for key, h in pool.ghost_handles.items():       # each object in a zspage of its class
        page, idx = h.word.value
        assert page.mem[("hdr", idx)] == ("alloc", h), key
    # one empty zspage, in the class the clients allocate from, pending deferred free
    empty = [(c.size, z.name) for c in pool.size_class for z in c.ghost_zspages if z.inuse == 0]
    assert [s for s, _ in empty] == [3]


def test_names_are_canonical_and_fill_in_defaults():
    assert large_scenario("large:tasks=3").name == "large"
    assert large_scenario("large:tasks=4").name == "large:classes=2,zspages=3,objects=5,tasks=4"
    assert large_scenario("large: objects = 0 ").name == "large:classes=2,zspages=3,objects=0,tasks=3"
    assert capacity(1, 2) == 2 and capacity(2, 3) == 13


@pytest.mark.parametrize("name,words", [
    ("large:classes=9", ["classes", "1..4", "9"]),
    ("large:zspages=1", ["zspages", "2..16"]),
    ("large:tasks=0", ["tasks", "1..8"]),
    ("large:objects=99", ["objects", "0..13"]),
    ("large:objects=-1", ["objects"]),
    ("large:colour=3", ["colour", "classes=N"]),
    ("large:tasks=two", ["tasks", "integer", "two"]),
    ("large:tasks=2,tasks=3", ["tasks", "twice"]),
    ("large:", ["large:classes=C"]),
    ("large:tasks", ["tasks"]),
])
def test_bad_parameters_are_one_line_usage_errors(name, words):
    with pytest.raises(UsageError) as e:
        make_build(Upstream, name, 1)
    msg = str(e.value)
    assert "\n" not in msg and all(w in msg for w in words), msg


def test_unknown_scenario_names_the_family():
    with pytest.raises(UsageError, match="large:k=v"):
        find_scenario("huge")


def test_operations_run_in_every_class():
    """Sampled executions reach every kernel path the roles drive, on several classes."""
    seen = Labels()
    build, _ = make_build(Upstream, PARAMS, 2)
    r = explore(build, scheduler=RandomScheduler(60, seed=3), properties=[seen],
                stop_on_violation=False, seed=3)
    assert r.executions == 60 and not r.violations
    assert {"zs_malloc", "zs_free", "__zs_compact", "zs_page_migrate", "async_free_zspage",
            "store", "load"} <= seen.seen
    handles = build().context.ghost_handles
    classes = {handles[k].word.value[0].zspage.cls.index for k in seen.keys if k in handles}
    assert classes == {0, 1, 2}


@pytest.mark.parametrize("version", sorted(VERSIONS))
@pytest.mark.parametrize("sampler", ["random", "pct"])
def test_versions_are_clean_under_a_short_sample(version, sampler):
    build, _ = make_build(VERSIONS[version], "large", 2)
    # A short sample (bench/bench_large.py runs the long ones): every property silent.
    sched = RandomScheduler(60, seed=1) if sampler == "random" else PCT(3, 60, seed=1)
    r = explore(build, scheduler=sched, stop_on_violation=False, seed=1)
    assert r.executions == 60 and not r.complete
    assert r.violations == [], [(v.property, v.message) for v in r.violations[:3]]


# mutation -> (PCT depth, or None for random; executions): each is found on "large" at depth 2
# with seed 0 well within the budget (first hit in bench/bench_large.py: 1 to 392 executions).
FOUND = {
    "compact-keeps-src": (3, 20),
    "free-without-page-locks": (None, 20),
    "async-free-no-stat": (3, 20),
    "sleeping-class-lock": (None, 20),
    "read-end-unlock-first": (2, 1000),
    "preemptible-writer": (3, 20),
    "lock-zspage-sleeps-under-read-lock": (2, 200),   # 77 since pct alternates its units
    "map-area-without-local-lock": (None, 200),
}


@pytest.mark.parametrize("name", sorted(FOUND))
def test_samplers_find_mutations_on_the_large_pool(name):
    m = MUTATIONS[name]
    depth, n = FOUND[name]
    sched = RandomScheduler(n, seed=0) if depth is None else PCT(depth, n, seed=0)
    build, _ = make_build(variant_for(m.base, name), "large", 2)
    props = [] if m.expected_property == "bug" else [m.expected_property]
    r = explore(build, scheduler=sched, properties=props, stop_on_violation=True, seed=0)
    assert [v.property for v in r.violations] == [m.expected_property], name


@pytest.mark.parametrize("scenario", ["large", "large:classes=3,zspages=3,objects=5,tasks=2"])
def test_a_trace_from_the_large_scenario_replays(tmp_path, scenario):
    m = MUTATIONS["compact-keeps-src"]
    build, params = make_build(m.cls, scenario, 2)
    r = explore(build, scheduler=PCT(3, 50, seed=0), properties=[m.expected_property], seed=0)
    assert r.violations, scenario
    params = json.loads(json.dumps(params))
    assert params["scenario"] == scenario and "classes" in params["pool"]
    trace = make_trace(r.violations[0], {"loader": LOADER, "params": params})
    out = replay(load_trace(save_trace(trace, str(tmp_path))))
    assert out.reproduced, out.message
    assert type(build_from_params(params)()) is type(build())
