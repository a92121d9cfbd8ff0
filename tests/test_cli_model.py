"""The command line end to end on the real zsmalloc model (model/registry.py).

The fake-registry tests (test_cli.py) pin the CLI's own behaviour; these pin
what a kernel developer sees: the three versions pass at depth 1, a seeded bug
is found, written to a trace file, and reproduced by ``zsmc replay``.
"""

from __future__ import annotations

import json

import pytest
from clirun import run

import model.registry as reg  # noqa: E402


def one_line_exit_2(res, *words):
    assert res.exit_code == 2, (res.exit_code, res.output)
    err = res.stderr.strip()
    assert "Traceback" not in res.output and len(err.splitlines()) == 1, err
    for w in words:
        assert w in err, (w, err)


def default_scenarios():
    return [n for n, s in reg.SCENARIOS.items() if getattr(s, "default", True)]


def smallest_scenario():
    return min(reg.SCENARIOS.values(), key=lambda s: (s.default_cpus, s.name)).name


def expressible_mutations():
    return [m for m in reg.MUTATIONS.values() if getattr(m, "expressible", True) and m.cls is not None]


@pytest.mark.parametrize("version", ["upstream", "v5", "legacy"])
def test_each_version_passes_completely_at_depth_1(version):
    """The README's command, per version: the default scenario set (seconds each; issue 3
    targets depth 1 on upstream within 10 s)."""
    res = run("check", "--depth", "1", "--variant", version, "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["status"] == "pass" and doc["violations"] == 0 and doc["scheduler"] == "dpor"
    assert [(s["name"], s["params"]["cpus"]) for s in doc["scenarios"]] == [
        (n, c) for n in default_scenarios() for c in reg.SCENARIOS[n].counts]
    assert {s["params"]["cpus"] for s in doc["scenarios"]} >= {1, 2}
    assert all(s["complete"] and s["executions"] >= 1 for s in doc["scenarios"])


def test_a_mutation_is_found_written_and_replayed(tmp_path):
    """`zsmc check --mutation NAME` exits 1, writes a trace per violation, and each replays.

    The first mutations of the catalogue are tried at depth 1 on two reader-against-
    compaction scenarios (three runs; each violation is minimised and replayed, about
    a second each); the catalogue's own tests find every mutation at the depth and in
    the scenarios it needs.
    """
    import checker.trace  # noqa: F401  (a missing module is a failure)
    tried = expressible_mutations()[:3]
    assert tried, "the catalogue registers expressible mutations"
    for m in tried:
        out = tmp_path / m.name
        res = run("check", "--mutation", m.name, "--depth", "1", "--time-limit", "60",
                  "--scenario", "up-read-compact", "--scenario", "read-compact",
                  "--out", str(out), "--format", "json")
        assert res.exit_code in (0, 1, 3), res.output
        if res.exit_code == 1:
            break
    else:
        pytest.fail(f"none of {[m.name for m in tried]} was found at depth 1")
    doc = json.loads(res.stdout)
    assert doc["mutation"] == m.name and doc["variant"] == f"{m.base}+{m.name}"
    hits = [v for s in doc["scenarios"] for v in s["violations"]]
    assert hits and m.expected_property in {v["property"] for v in hits}
    assert sorted(str(p) for p in out.glob("*.json")) == sorted({v["trace"] for v in hits})
    for v in hits:
        rep = run("replay", v["trace"])
        assert rep.exit_code == 1, rep.output
        assert f"reproduced: [{v['property']}]" in rep.stdout


def test_lists_name_every_registered_thing():
    variants = run("list", "variants").stdout.splitlines()
    assert {ln.split()[0] for ln in variants} >= {"upstream", "v5", "legacy"}
    mutations = run("list", "mutations").stdout.splitlines()
    assert [ln.split()[0] for ln in mutations] == (list(reg.MUTATIONS) or ["(no"])
    for ln, m in zip(mutations if reg.MUTATIONS else [], reg.MUTATIONS.values(), strict=True):
        expressible = getattr(m, "expressible", True) and m.cls is not None
        assert ("not expressible" in ln) == (not expressible), ln
    scenarios = run("list", "scenarios").stdout.splitlines()
    assert [ln.split()[0] for ln in scenarios] == list(reg.SCENARIOS)


def test_user_variant_file(tmp_path):
    base = reg.VERSIONS["upstream"]
    f = tmp_path / "mypatch.py"
    f.write_text(f"from {base.__module__} import {base.__name__}\n\n"
                 f"class MyZsmalloc({base.__name__}):\n    '''an unchanged patch'''\n\n"
                 "class NotAVersion:\n    pass\n")
    res = run("check", "--variant", f"{f}:MyZsmalloc", "--scenario", smallest_scenario())
    assert res.exit_code == 0, res.output
    one_line_exit_2(run("check", "--variant", f"{f}:NotAVersion"), "NotAVersion")
    one_line_exit_2(run("check", "--variant", f"{tmp_path}/absent.py:X"), "absent.py")


def test_real_registry_bad_input_is_one_line():
    one_line_exit_2(run("check", "--variant", "nope"), "nope")
    one_line_exit_2(run("check", "--mutation", "nope"), "nope")
    one_line_exit_2(run("check", "--scenario", "nope"), "nope")
    needy = max(reg.SCENARIOS.values(), key=lambda s: s.min_cpus)
    if needy.min_cpus > 1:
        one_line_exit_2(run("check", "--scenario", needy.name, "--cpus", str(needy.min_cpus - 1)),
                        needy.name)


NO_READ_LOCK = '''
from model import Upstream


class NoReadLock(Upstream):
    """Object access without the zspage read lock: compaction can move the object under it."""

    def zspage_read_lock(self, zspage):
        return
        yield

    def zspage_read_unlock(self, zspage):
        return
        yield
'''


def test_a_buggy_patch_is_found_minimised_and_replayed(tmp_path):
    """The reviewer's path: a patch file with a bug, checked, its trace replayed and shown."""
    import checker.trace  # noqa: F401  (a missing module is a failure)
    f = tmp_path / "patch.py"
    f.write_text(NO_READ_LOCK)
    out = tmp_path / "traces"
    res = run("check", "--variant", f"{f}:NoReadLock", "--scenario", "smoke", "--out", str(out))
    assert res.exit_code == 1, res.output
    # Since stop 31 a declared access orders nothing for the data-race check: the object's
    # memory, written with no lock held, races with compaction's copy before compaction
    # frees the zspage under the mapping (no-free-while-mapped, found with that property).
    assert "violation of data-race: data race on Page.mem: compaction reads it" in res.stdout
    [trace] = out.glob("*.json")
    assert f"replay: zsmc replay {trace}" in res.stdout and "  minimised: preemptions " in res.stdout
    doc = json.loads(trace.read_text())
    assert doc["program"]["params"]["variant"] == f"{f}:NoReadLock"
    assert doc["meta"]["minimized"]["after"]["steps"] <= doc["meta"]["minimized"]["before"]["steps"]
    # The printed replay command names the variant: a trace runs no code by itself.
    assert f"replay: zsmc replay {trace} --variant {f}:NoReadLock" in res.stdout
    rep = run("replay", str(trace), "--variant", f"{f}:NoReadLock")
    assert rep.exit_code == 1 and "reproduced: [data-race]" in rep.stdout
    import checker.render  # noqa: F401  (a missing module is a failure)
    shown = run("show", str(trace))
    assert shown.exit_code == 0 and "zs_obj_write" in shown.stdout
    # The patch fixed: the recorded schedule no longer fits the model, said on one line.
    f.write_text("from model import Upstream\n\nclass NoReadLock(Upstream):\n    pass\n")
    one_line_exit_2(run("replay", str(trace), "--variant", f"{f}:NoReadLock"), "schedule diverges at step")
    # The recorded file changed: --trust-variant refuses it instead of running another file.
    one_line_exit_2(run("replay", str(trace), "--trust-variant"), "SHA-256 differs")


def test_hypothesis_on_the_large_family_draws_the_pool_and_writes_a_replayable_trace(tmp_path):
    """--scheduler hypothesis runs the state machine (model/stateful.py); on --scenario large
    it draws classes, zspages, clients, objects and CPUs too; the trace records the drawn
    pool and every task's operations, so it replays."""
    out = tmp_path / "t"
    res = run("check", "--mutation", "compact-keeps-src", "--scenario", "large", "--depth", "2",
              "--scheduler", "hypothesis", "--executions", "200", "--seed", "0", "--out", str(out),
              "--no-minimize", "--format", "json")
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    sc = doc["scenarios"][0]
    assert sc["params"]["scenario"].startswith("large:classes=")
    assert sc["params"]["program"] == "stateful" and sc["params"]["script"]
    [trace] = list(out.glob("*.json"))
    again = run("replay", str(trace))
    assert again.exit_code == 1 and "reproduced" in again.stdout
