"""One lockdep graph per check (properties/lockdep_global.py): the merge of several
programs' lock-order dependencies, the violation it reports and its trace (version 3:
earlier runs of other programs).  Generic programs only (tests/trace_programs.py);
the zsmalloc cases are tests/model/test_model_lockdep_global.py."""

from __future__ import annotations

import copy

import pytest

from checker import explore
from checker.errors import UsageError
from checker.minimize import minimize_trace
from checker.parallel import explore_split
from checker.trace import check_trace, make_trace, replay
from properties.lockdep_global import CheckLockdep

try:
    from tests import trace_programs as tp
except ImportError:  # tests/ on sys.path instead of the rootdir
    import trace_programs as tp


def states(params, jobs=1):
    """The lock-order states of one program's search (split on ``jobs`` processes)."""
    build = tp.load(params)
    if jobs > 1:
        r = explore_split(build, jobs=jobs, properties=["lock-order"])
    else:
        r = explore(build, properties=["lock-order"])
    assert not r.violations, r.violations
    return build, r.states


def feed(graph, params, name, kernel="default", jobs=1):
    build, st = states(params, jobs)
    return graph.feed(kernel, name, 1, tp.program(params), build, st)


AB, BA = {"program": "one-order", "order": "AB"}, {"program": "one-order", "order": "BA"}


def test_each_order_alone_is_clean_and_exports_its_dependency():
    for params, want in ((AB, (("A", 0), ("B", 0))), (BA, (("B", 0), ("A", 0)))):
        _, st = states(params)
        [dep] = [d for s in st for d in s["lock-order"]]
        assert tuple(dep[:2]) == want and dep[3]["task"] == "T" and dep[3]["chain"] == ("take",)


@pytest.mark.parametrize("jobs", [1, 2])
def test_two_programs_close_a_cycle_reported_in_lockdeps_shape(jobs):
    g = CheckLockdep()
    assert feed(g, AB, "ab", jobs=jobs) == []
    [v] = feed(g, BA, "ba", jobs=jobs)
    assert v.property == "lock-order"
    head, *rest = v.message.splitlines()
    assert head.startswith("possible circular locking dependency across scenarios")
    assert "T (ba, 1 CPU) is trying to take A while holding B" in head
    assert "B -> A -> B" in head
    assert rest[0].strip() == "the existing dependency chain (in reverse order) is:"
    assert rest[1].strip().startswith("-> #1 A -(EN)-> B: ab, 1 CPU, T at take;")
    assert rest[2].strip().startswith("-> #0 B -(EN)-> A: ba, 1 CPU, T at take;")
    assert [(e["prev"], e["next"], e["scenario"]) for e in v.details["cycle"]] == [
        ("B", "A", "ba"), ("A", "B", "ab")]
    assert v.details["cycle"][1]["held_locks"] == ["A"]
    # The other edge's run, with its program: what the trace replays first.
    [run] = v.runs
    assert run["program"] == tp.program(AB) and run["schedule"]


def test_the_merge_is_per_kernel():
    g = CheckLockdep()
    assert feed(g, AB, "ab", kernel="default") == []
    assert feed(g, BA, "ba", kernel="rt") == []
    assert len(feed(g, BA, "ba", kernel="default")) == 1


def test_a_cycle_is_reported_once_and_one_programs_own_cycle_is_not_reported_again():
    g = CheckLockdep()
    feed(g, AB, "ab")
    assert len(feed(g, BA, "ba")) == 1
    assert feed(g, BA, "ba again") == []
    # A program whose own graph has the cycle reports it itself (lock-order, as before).
    two = {"program": "two-runs"}
    g = CheckLockdep()
    r = explore(tp.load(two), properties=["lock-order"])
    assert len(r.violations) == 1
    assert g.feed("default", "two-runs", 1, tp.program(two), tp.load(two), r.states) == []


@pytest.mark.parametrize("reverse", [{"trylock": True}, {"nested": 1}])
def test_a_trylock_or_a_nested_subclass_in_the_reverse_order_adds_no_cycle(reverse):
    g = CheckLockdep()
    feed(g, AB, "ab")
    assert feed(g, dict(BA, **reverse), "ba") == []


def test_a_longer_cycle_over_three_programs():
    g = CheckLockdep()
    feed(g, {"program": "one-order", "order": "AB"}, "ab")
    feed(g, {"program": "one-order", "order": "BC"}, "bc")
    [v] = feed(g, {"program": "one-order", "order": "CA"}, "ca")
    assert "C -> A -> B -> C" in v.message.splitlines()[0]
    assert len(v.runs) == 2 and all(r["program"] for r in v.runs)


@pytest.fixture(scope="module")
def trace():
    g = CheckLockdep()
    feed(g, AB, "ab")
    [v] = feed(g, BA, "ba")
    return make_trace(v, tp.program(BA))


def test_the_trace_is_version_3_and_replays_the_other_programs_run_first(trace):
    assert trace["version"] == 3
    check_trace(trace)
    [run] = trace["runs"]
    assert run["program"] == tp.program(AB) and run["events"]
    out = replay(trace)
    assert out.reproduced, out.message
    assert out.message.startswith("reproduced after 1 earlier run(s)")


def test_without_the_other_programs_run_it_does_not_reproduce(trace):
    t = copy.deepcopy(trace)
    del t["runs"]
    t["version"] = 2
    assert not replay(t).reproduced


def test_a_run_with_a_program_in_a_version_2_trace_is_refused(trace):
    t = copy.deepcopy(trace)
    t["version"] = 2
    with pytest.raises(UsageError, match="needs trace version 3"):
        check_trace(t)


def test_the_minimiser_keeps_the_runs_programs_and_the_message(trace):
    small, _ = minimize_trace(trace, time_limit=20)
    assert small["version"] == 3 and small["runs"][0]["program"] == tp.program(AB)
    assert small["violation"]["message"] == trace["violation"]["message"]
    assert replay(small).reproduced


def test_one_cycle_per_program_fed_though_it_closes_two():
    """BACD closes A -> B -> A (with AB) and D -> C -> D (with DC): one report per
    program, as a scenario's search stops at its first violation; every edge joins."""
    g = CheckLockdep()
    feed(g, {"program": "one-order", "order": "AB"}, "ab")
    feed(g, {"program": "one-order", "order": "DC"}, "dc")
    [v] = feed(g, {"program": "one-order", "order": "BACD"}, "bacd")
    assert v.message.splitlines()[0].endswith("B -> A -> B")
    graph = g.kernels["default"].graph
    assert (("C", 0), ("D", 0), 1) in graph
    # The second cycle is not reported later either (it was closed, not reported: a
    # program taking D -> C again adds nothing).
    assert feed(g, {"program": "one-order", "order": "DC"}, "dc again") == []
