"""The review scenarios (issue 18's four roles, two per CPU): a patch's check adds them
at depth 1 after the default set; ``--quick`` leaves them out, ``--review`` adds them to
any check; a version's or a mutation's check and a named ``--scenario`` do not."""

from __future__ import annotations

import dataclasses
import json
import types

import pytest
from clirun import run

from cli.format import check_command
from model import Upstream
from model import coverage as cov
from model import registry
from model.scenarios import SCENARIOS

REVIEW = [n for n, s in SCENARIOS.items() if s.review]
DEFAULT = [n for n, s in SCENARIOS.items() if s.default]
# One execution per scenario: the plan, not the search, is under test.
CHEAP = ("--max-executions", "1", "--format", "json", "--no-minimize")


@pytest.fixture(autouse=True)
def _no_warm_up(monkeypatch):
    from checker import mixed_warmup
    monkeypatch.setattr(mixed_warmup, "WARM_UP", 0)     # the plan is under test, not the search


@pytest.fixture
def patch(tmp_path):
    path = tmp_path / "patch.py"
    path.write_text("from model import Upstream\n\n\nclass Same(Upstream):\n"
                    "    def zs_free(self, handle):\n        yield from super().zs_free(handle)\n")
    return f"{path}:Same"


def checked(*args, out, codes=(0, 3)):
    res = run("check", *args, *CHEAP, "--out", out)
    assert res.exit_code in codes, (res.exit_code, res.stdout, res.stderr)
    return json.loads(res.stdout)


def test_the_review_set_is_the_four_roles_and_no_default_scenario_is_in_it():
    # and, since red team round 5, three migrations of one zspage's pages; and the cheap
    # alloc-failure scenarios first (model/failure.py: a patch's -ENOMEM paths run there)
    assert REVIEW == ["malloc-nomem", "malloc-nomem-migrate", "migrate-nomem",
                      "mixed-a", "mixed-b", "migrate-neighbours"]
    assert not set(REVIEW) & set(DEFAULT)


@pytest.mark.parametrize("depth", ["1", "2"])
def test_a_patch_check_adds_the_review_scenarios_at_depth_1_after_the_default_set(patch, tmp_path, depth):
    doc = checked("--variant", patch, "--depth", depth, out=tmp_path)
    names = [s["name"] for s in doc["scenarios"]]
    assert list(dict.fromkeys(names)) == DEFAULT + REVIEW
    assert doc["review"] == REVIEW
    for s in doc["scenarios"]:
        want = 1 if s["name"] in REVIEW or s["params"].get("config") == "rt" else int(depth)
        assert s["params"]["depth"] == want, s["name"]
    # Run once each: the first-bugs-first pass at depth 1 is their only pass.
    assert names.count("mixed-a") == len(SCENARIOS["mixed-a"].counts) == 1


def test_the_text_report_says_which_scenarios_are_for_review_and_at_what_depth(patch, tmp_path):
    res = run("check", "--variant", patch, "--depth", "2", "--max-executions", "1", "--out", tmp_path)
    assert res.exit_code == 3
    assert ("  review scenarios, at depth 1 (--quick leaves them out): malloc-nomem, "
            "malloc-nomem-migrate, migrate-nomem, mixed-a, mixed-b, migrate-neighbours") in res.stdout
    assert "scenario mixed-b (2 CPUs) at depth 1: 1 executions" in res.stdout
    scenarios_line = next(ln for ln in res.stdout.splitlines() if ln.startswith("  scenarios: "))
    assert "mixed" not in scenarios_line


def test_quick_leaves_them_out_and_review_adds_them_to_a_version(patch, tmp_path):
    assert "review" not in checked("--variant", patch, "--quick", out=tmp_path)
    assert [s["name"] for s in checked("--variant", patch, "--quick", out=tmp_path)["scenarios"]
            if s["name"] in REVIEW] == []
    assert "review" not in checked(out=tmp_path)
    assert checked("--review", out=tmp_path)["review"] == REVIEW
    assert checked("--variant", "v5", "--review", out=tmp_path)["review"] == REVIEW


def test_a_mutation_check_stays_on_the_default_set_unless_asked(tmp_path):
    # The catalogue's checks are pinned on the default set (tests/test_model_mutants.py).
    m = "compact-skips-write-lock"
    assert "review" not in checked("--mutation", m, out=tmp_path, codes=(1, 3))
    assert checked("--mutation", m, "--review", out=tmp_path, codes=(1, 3))["review"] == REVIEW


def test_a_named_scenario_is_what_runs(patch, tmp_path):
    doc = checked("--variant", patch, "--scenario", "smoke", out=tmp_path)
    assert [s["name"] for s in doc["scenarios"]] == ["smoke"] and "review" not in doc
    res = run("check", "--review", "--scenario", "smoke", "--out", tmp_path)
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        "zsmc: error: --review adds the review scenarios to the default set; with --scenario, "
        "name them too (malloc-nomem, malloc-nomem-migrate, migrate-nomem, mixed-a, mixed-b, "
        "migrate-neighbours)"]


def test_the_trace_command_of_a_review_scenario_names_the_depth_it_ran_at():
    h = {"depth": 2, "mutation": None, "variant": "p.py:P", "scheduler": "dpor", "seed": 0,
         "preemption_bound": None, "properties": None, "review": REVIEW}
    assert "--depth 1 " in check_command(h, "mixed-a", {"depth": 1, "cpus": 2})["command"]
    assert "--depth 2 " in check_command(h, "read-compact", {"depth": 2, "cpus": 2})["command"]


def test_where_it_runs_looks_in_a_review_scenario_at_depth_1():
    # A registry whose only scenario is a review one: the hint of a changed function
    # that ran nowhere else points there.
    reg = types.SimpleNamespace(SCENARIOS={"mixed-a": SCENARIOS["mixed-a"]}, make_build=registry.make_build)
    assert cov.where_it_runs(Upstream, "zs_obj_write", 2, reg) == ("mixed-a", 1)
    plain = types.SimpleNamespace(SCENARIOS={"mixed-a": dataclasses.replace(SCENARIOS["mixed-a"], review=False)},
                                  make_build=registry.make_build)
    assert cov.where_it_runs(Upstream, "zs_obj_write", 2, plain) is None


# -- the PREEMPT_RT pass ----------------------------------------------------------------

def test_a_patch_check_runs_the_default_set_again_on_preempt_rt_at_depth_1(patch, tmp_path):
    """A patch ships to both kernels: some bugs are bugs on PREEMPT_RT only (a spinlock_t
    taken inside preempt_disable() sleeps in atomic context there)."""
    doc = checked("--variant", patch, "--depth", "2", out=tmp_path)
    assert doc["rt_pass"] == DEFAULT and "config" not in doc
    runs = [(s["name"], s["params"].get("config"), s["params"]["depth"]) for s in doc["scenarios"]]
    rt = [(n, d) for n, c, d in runs if c == "rt"]
    assert list(dict.fromkeys(n for n, _ in rt)) == DEFAULT and {d for _, d in rt} == {1}
    # After the default set, before the review scenarios (the cheaper pass first).
    kinds = ["rt" if c == "rt" else "review" if n in REVIEW else "default" for n, c, _ in runs]
    assert kinds == sorted(kinds, key=["default", "rt", "review"].index)


def test_quick_a_version_a_named_scenario_or_an_rt_check_has_no_rt_pass(patch, tmp_path):
    assert "rt_pass" not in checked("--variant", patch, "--quick", out=tmp_path)
    assert "rt_pass" not in checked(out=tmp_path)
    assert "rt_pass" not in checked("--variant", patch, "--scenario", "smoke", out=tmp_path)
    doc = checked("--variant", patch, "--config", "rt", out=tmp_path)
    assert "rt_pass" not in doc and doc["config"] == "rt"
    assert checked("--variant", "v5", "--review", out=tmp_path)["rt_pass"] == DEFAULT


def test_an_rt_only_bug_is_found_by_a_patchs_default_check(tmp_path):
    """Red team round 3's free_preempt_disabled passed every !RT scenario; the RT pass finds
    it, says where, and its trace's command and program are on RT."""
    variant = "tests/variants/redteam3/free_preempt_disabled.py:FreePreemptDisabled"
    res = run("check", "--variant", variant, "-x", "--no-minimize", "--out", tmp_path)
    assert res.exit_code == 1, res.stdout
    out = res.stdout
    assert "  and on PREEMPT_RT, at depth 1 (--quick leaves it out): the scenarios above" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("scenario ") and "incomplete" in ln)
    assert " on PREEMPT_RT" in line and "violation" not in line.split(":")[0]
    assert "on PREEMPT_RT" in out.split("not checked: ", 1)[1]
    path = next(ln.split("trace: ", 1)[1] for ln in out.splitlines() if ln.startswith("trace: "))
    trace = json.loads(open(path).read())
    assert "--config rt" in trace["meta"]["command"] and trace["program"]["params"]["config"] == "rt"
    assert trace["violation"]["property"] == "sleep-in-atomic"
