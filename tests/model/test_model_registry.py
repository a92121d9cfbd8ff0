"""model.registry: versions, scenarios, variants from files and modules, builds and params."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checker import Program, UsageError, explore
from model import V5, Legacy, Upstream
from model import registry as reg
from model.registry import (
    MUTATIONS,
    SCENARIOS,
    VERSIONS,
    Mutation,
    build_from_params,
    load_variant,
    make_build,
    register_mutation,
    variant_for,
)


def one_line(exc_info):
    msg = str(exc_info.value)
    assert "\n" not in msg and msg
    return msg


def test_versions_and_the_default_scenarios_cover_cpus_and_roles():
    assert VERSIONS == {"upstream": Upstream, "v5": V5, "legacy": Legacy}
    default = [s for s in SCENARIOS.values() if s.default]
    assert {s.default_cpus for s in default} == {1, 2}
    assert {t.role for s in default for t in s.tasks} == {"client", "compaction", "migration", "worker"}
    assert not SCENARIOS["smoke"].default
    for s in SCENARIOS.values():
        assert 1 <= s.min_cpus <= s.default_cpus and s.description


def test_load_variant_builtin_module_and_file(tmp_path):
    assert load_variant("v5") is V5
    assert load_variant("model.versions:Legacy") is Legacy
    f = tmp_path / "patch.py"
    f.write_text("from model import Upstream\n\n"
                 "class Mine(Upstream):\n"
                 "    def zs_free(self, handle):\n"
                 "        yield from super().zs_free(handle)\n")
    cls = load_variant(f"{f}:Mine")
    assert issubclass(cls, Upstream) and cls.__name__ == "Mine"
    _, params = make_build(cls, "smoke", 1)
    assert params["variant"] == f"{f}:Mine" and params["mutation"] is None
    again = build_from_params(json.loads(json.dumps(params)))
    assert type(again()) is Program


@pytest.mark.parametrize("spec,words", [
    ("nope", ["nope", "upstream"]),
    ("", ["variant"]),
    ("/nonexistent/dir/absent.py:X", ["absent.py", "not found"]),
    ("model.versions:Nope", ["Nope"]),
    ("model.versions:Pool", ["Pool", "not a subclass"]),
    ("no_such_module_zz:X", ["no_such_module_zz"]),
])
def test_load_variant_rejects_bad_specs_in_one_line(spec, words):
    with pytest.raises(UsageError) as e:
        load_variant(spec)
    msg = one_line(e)
    for w in words:
        assert w in msg, msg


def test_load_variant_rejects_a_file_that_fails_and_a_plain_override(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("raise RuntimeError('boom\\nsecond line')\n")
    with pytest.raises(UsageError) as e:
        load_variant(f"{bad}:X")
    assert "boom" in one_line(e)
    plain = tmp_path / "plain.py"
    plain.write_text("from model import V5\n\nclass P(V5):\n"
                     "    def zs_free(self, handle):\n        return None\n")
    with pytest.raises(UsageError) as e:
        load_variant(f"{plain}:P")
    assert "zs_free must be a generator" in one_line(e)


@pytest.mark.parametrize("args,words", [
    (("nope", 1), ["nope", "smoke"]),
    (("smoke", 0), ["depth"]),
    (("smoke", -1), ["depth"]),
    (("smoke", "2"), ["depth"]),
    (("smoke", True), ["depth"]),
    (("read-compact", 1, 0), ["read-compact", "1 CPU"]),
])
def test_make_build_rejects_bad_input(args, words):
    with pytest.raises(UsageError) as e:
        make_build(Upstream, *args)
    msg = one_line(e)
    for w in words:
        assert w in msg


def test_make_build_rejects_a_class_that_is_not_a_version():
    with pytest.raises(UsageError):
        make_build(object, "smoke", 1)


def test_params_describe_the_scenario_and_build_fresh_programs():
    build, params = make_build(V5, "clients", 2, cpus=3)
    assert json.loads(json.dumps(params)) == params
    assert (params["variant"], params["mutation"], params["scenario"], params["depth"], params["cpus"]) \
        == ("v5", None, "clients", 2, 3)
    assert [(t["name"], t["role"], t["cpu"], t["api"]) for t in params["tasks"]] \
        == [("client0", "client", 0, "obj"), ("client1", "client", 1, "map")]
    assert params["pool"]["zspages"] == [["c1.b", "c0.a"], [None, None]]
    a, b = build(), build()
    assert a.context is not b.context and a.cpus == 3
    assert a.context.writer_trylock_locks == {"zspage->lock"}
    assert a.context.consistency_locks == {"class->lock"}
    assert make_build(Legacy, "smoke", 1)[0]().context.writer_trylock_locks == frozenset()


def test_build_from_params_replays_the_same_exploration():
    build, params = make_build(Upstream, "smoke", 1)
    again = build_from_params(json.loads(json.dumps(params)))
    r1 = explore(build, scheduler="dpor")
    r2 = explore(again, scheduler="dpor")
    assert r1.executions == r2.executions and r1.outcomes == r2.outcomes


def test_build_from_params_rejects_changed_or_bad_params():
    _, params = make_build(Upstream, "smoke", 1)
    with pytest.raises(UsageError) as e:
        build_from_params(dict(params, tasks=[]))
    assert "changed" in one_line(e)
    with pytest.raises(UsageError):
        build_from_params({"scenario": "smoke"})
    with pytest.raises(UsageError):
        build_from_params(dict(params, variant="nope"))
    with pytest.raises(UsageError):
        build_from_params("upstream")


class _Seeded(Upstream):
    """A test mutation: zs_free forgets to drop OBJS_INUSE."""

    def class_stat_sub(self, cls, idx, n):
        if idx == reg.ZS_OBJS_INUSE_FOR_TEST:
            return
            yield
        yield from super().class_stat_sub(cls, idx, n)


def test_mutations_register_and_round_trip(monkeypatch):
    from model.pool import ZS_OBJS_INUSE
    monkeypatch.setattr(reg, "ZS_OBJS_INUSE_FOR_TEST", ZS_OBJS_INUSE, raising=False)
    monkeypatch.setattr(reg, "MUTATIONS", dict(MUTATIONS))
    m = register_mutation(Mutation("test-stat", "upstream", _Seeded, "pool-consistency",
                                   "a test", "forget the OBJS_INUSE decrement"))
    assert reg.MUTATIONS["test-stat"] is m
    assert variant_for("upstream", "test-stat") is _Seeded
    _, params = make_build(_Seeded, "smoke", 1)
    assert (params["variant"], params["mutation"]) == ("upstream", "test-stat")
    assert build_from_params(params)().context is not None
    with pytest.raises(UsageError) as e:
        variant_for("v5", "test-stat")
    assert "upstream" in one_line(e)
    with pytest.raises(UsageError):
        variant_for("upstream", "no-such-mutation")
    register_mutation(Mutation("weak", "upstream", None, "-", "review", "needs weak memory",
                               expressible=False, reason="needs a weak memory model"))
    with pytest.raises(UsageError) as e:
        variant_for("upstream", "weak")
    assert "weak memory" in one_line(e)
    with pytest.raises(UsageError):
        register_mutation(Mutation("bad", "v5", _Seeded, "x", "o", "s"))      # not a V5 subclass


def test_a_seeded_bug_is_caught_by_the_pool_checks(monkeypatch):
    """The model's checks are real: forgetting a stat decrement is an inconsistency."""
    from model.pool import ZS_OBJS_INUSE
    monkeypatch.setattr(reg, "ZS_OBJS_INUSE_FOR_TEST", ZS_OBJS_INUSE, raising=False)
    build, _ = make_build(_Seeded, "clients", 1)
    result = explore(build, scheduler="dpor", properties=["pool-consistency"])
    assert result.violations and "OBJS_INUSE" in result.violations[0].message


def test_the_model_registers_its_trace_loader_and_only_that_one():
    """A trace may name ``build_from_params`` once the model is imported; the loader of
    the user's own check, which trusts its variant file, is never a trace loader."""
    from checker.trace import LOADERS, resolve_build
    assert reg.LOADER in LOADERS and reg.OWN_LOADER not in LOADERS
    _, params = make_build(Upstream, "smoke", 1)
    with pytest.raises(UsageError, match="not a registered loader"):
        resolve_build({"loader": reg.OWN_LOADER, "params": params})


def test_the_workers_loader_trusts_the_variant_file_of_the_users_own_check(tmp_path):
    """On a Dask worker (another process) nobody named the variant file: the split search
    hands the workers ``OWN_LOADER``, which uses it, while a trace's loader refuses it."""
    import subprocess
    import sys
    f = tmp_path / "patch.py"
    f.write_text("from model import Upstream\n\nclass Mine(Upstream):\n    pass\n")
    _, params = make_build(load_variant(f"{f}:Mine"), "smoke", 1)
    code = ("import json, sys\n"
            "from checker import UsageError\n"
            "from checker.trace import load_build\n"
            "from model import registry as reg\n"
            "params = json.loads(sys.argv[1])\n"
            "try:\n"
            "    reg.build_from_params(params)\n"
            "except UsageError as exc:\n"
            "    print('refused:', exc)\n"
            "build = load_build({'loader': reg.OWN_LOADER, 'params': params})\n"
            "print('built:', type(build()).__name__)\n")
    out = subprocess.run([sys.executable, "-c", code, json.dumps(params)], capture_output=True, text=True,
                         check=True, cwd=Path(reg.__file__).resolve().parent.parent).stdout
    assert "refused: the program is the variant" in out and "built: Program" in out
