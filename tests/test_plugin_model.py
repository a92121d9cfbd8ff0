"""The pytest plugin on the zsmalloc model (issue 15, point 3): options apply to model builds or
are refused, traces go to a configurable directory and into the report, and the "check my
variant in CI" recipe of docs/patch-review.md works as pasted."""

from __future__ import annotations

import importlib.metadata
import json
import re
from pathlib import Path

import pytest

from model.registry import SCENARIOS

pytest_plugins = ["pytester"]

_INSTALLED = any(ep.name == "zsmc" for ep in importlib.metadata.entry_points(group="pytest11"))
PLUGIN = [] if _INSTALLED else ["-p", "pytest_zsmc"]
DOC = Path(__file__).resolve().parent.parent / "docs" / "patch-review.md"

BUGGY = '''
from model import Upstream


class MyZsmalloc(Upstream):
    """free_zspage frees the zspage without taking its page locks (trylock_zspage)."""

    def free_zspage(self, cls, zspage):
        yield zspage.obj.access()
        yield from self.remove_zspage(cls, zspage)
        yield from self._free_zspage(cls, zspage)
'''
CLEAN = 'from model import Upstream\n\n\nclass MyZsmalloc(Upstream):\n    """upstream, unchanged."""\n'


def _run(pytester, *args):
    return pytester.runpytest_inprocess(*PLUGIN, "-p", "no:cacheprovider", *args)


def recipe() -> dict:
    """The files of the recipe: ``{path: text}`` from docs/patch-review.md's marked blocks."""
    text = DOC.read_text()
    start = text.index("## Check it in CI")
    return {m.group(1): m.group(2) for m in re.finditer(
        r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", text[start:], re.S)}


def test_the_recipe_is_in_the_docs():
    files = recipe()
    assert set(files) == {"tests/test_my_patch.py", "pyproject.toml"}
    assert "zsmc_check(variant=PATCH, scenario=scenario)" in files["tests/test_my_patch.py"]
    assert "TestMyPatchOnTheLargePool = MyPatchMachine.TestCase" in files["tests/test_my_patch.py"]


def test_the_recipe_passes_a_good_patch(pytester):
    for path, text in recipe().items():
        pytester.path.joinpath(path).parent.mkdir(parents=True, exist_ok=True)
        pytester.path.joinpath(path).write_text(text)
    pytester.path.joinpath("patches").mkdir()
    pytester.path.joinpath("patches", "my_patch.py").write_text(CLEAN)
    # Every default scenario is a test, on !RT and on RT, and every review scenario one more;
    # a few run (CLEAN is upstream unchanged, whose whole default set passes on both kernels
    # in tests/test_cli_model.py and tests/model/test_model_rt.py: run here too, it was
    # minutes of the suite for nothing new).
    default = sorted(n for n, s in SCENARIOS.items() if s.default)
    review = sorted(n for n, s in SCENARIOS.items() if s.review)
    res = _run(pytester, "--collect-only", "-q", "tests")
    got = res.stdout.str()
    for test, names in [("test_every_interleaving", default), ("test_on_preempt_rt", default),
                        ("test_the_roles_combined", review)]:
        assert names and all(f"{test}[{n}]" in got for n in names), (test, got)
    assert "TestMyPatchOnTheLargePool" in got
    sample = ["malloc-free", "read-migrate", "free-deferred"]
    assert set(sample) <= set(default)
    res = _run(pytester, "--zsmc-depth", "1", "-q", "tests", "-k",
               " or ".join(f"interleaving[{n}] or preempt_rt[{n}]" for n in sample) + " or LargePool")
    res.assert_outcomes(passed=2 * len(sample) + 1)   # !RT, RT, machine


def test_the_recipe_fails_a_buggy_patch_with_a_trace_that_stays(pytester):
    for path, text in recipe().items():
        pytester.path.joinpath(path).parent.mkdir(parents=True, exist_ok=True)
        pytester.path.joinpath(path).write_text(text)
    pytester.path.joinpath("patches").mkdir()
    pytester.path.joinpath("patches", "my_patch.py").write_text(BUGGY)
    # A subprocess: --hypothesis-seed sets a process-wide seed, which must not leak here.
    res = pytester.runpytest_subprocess(*PLUGIN, "-p", "no:cacheprovider", "--zsmc-depth", "1", "-q",
                                        "tests", "-k", "read-compact or LargePool", "--hypothesis-seed", "0")
    res.assert_outcomes(failed=5)          # read-compact, up-read-compact (!RT and RT), the state machine
    out = res.stdout.str()
    res.stdout.fnmatch_lines(["*test_every_interleaving?read-compact?*",
                              "zsmc: [[]bug[]] task compaction hit BUG: __free_zspage: *in scenario read-compact*",
                              "violation of bug at step *",
                              "*steps shown: lock and preemption steps*"])
    saved = sorted(set(re.findall(r"trace(?: saved)?: (\S+\.json)", out)))
    assert len(saved) == 5, out
    for path in saved:
        assert Path(path).parent == pytester.path / "zsmc-traces", path
        assert Path(path).exists()          # not in a temporary directory pytest deletes
        assert f"replay: zsmc replay {path}" in out
    from checker.trace import load_trace, replay
    from model.registry import load_variant
    load_variant(f"{pytester.path / 'patches' / 'my_patch.py'}:MyZsmalloc")   # named: it may run
    for path in saved:
        assert replay(load_trace(path)).reproduced


def test_the_trace_directory_is_an_ini_option_and_an_option(pytester):
    pytester.makeini("[pytest]\nzsmc_trace_dir = ci/traces\n")
    pytester.makepyfile(test_x='''
def test_bug(zsmc_check):
    zsmc_check(mutation="free-drops-pool-lock-early", scenario="read-compact")
''')
    res = _run(pytester)
    res.assert_outcomes(failed=1)
    assert list((pytester.path / "ci" / "traces").glob("bug-*.json"))
    res = _run(pytester, "--zsmc-trace-dir", "elsewhere")
    assert list((pytester.path / "elsewhere").glob("bug-*.json"))


MODEL_BUILDS = '''
import pytest

from model.registry import SCENARIOS
from checker import explore
from model.registry import VERSIONS, make_build
from model.stateful_program import make_build as stateful_build


def test_depth_applies_to_a_model_build(zsmc_check):
    build, params = make_build(VERSIONS["upstream"], "smoke", 1)
    res = zsmc_check(build)
    want = explore(make_build(VERSIONS["upstream"], "smoke", {depth})[0])
    assert res.executions == want.executions and res.complete


@pytest.mark.zsmc(depth=2)
def test_the_marker_depth_too(zsmc_check):
    res = zsmc_check(variant="upstream", scenario="up-read-migrate")
    assert res.executions == explore(make_build(VERSIONS["upstream"], "up-read-migrate", 2)[0]).executions


def test_a_program_without_depth_refuses_it(zsmc_check):
    build, _ = stateful_build(VERSIONS["upstream"], "smoke", 1, 1, script={{"cpu0.a": [["exit", None]]}})
    zsmc_check(build)


@pytest.mark.zsmc(depth=0)
def test_depth_0_is_refused(zsmc_check):
    zsmc_check(variant="upstream", scenario="smoke")
'''


def test_options_apply_to_model_builds_or_are_refused(pytester):
    pytester.makepyfile(test_builds=MODEL_BUILDS.format(depth=2))
    res = _run(pytester, "--zsmc-depth", "2", "-v")
    res.assert_outcomes(passed=2, failed=2)
    res.stdout.fnmatch_lines([
        "*test_a_program_without_depth_refuses_it FAILED*",
        "*test_depth_0_is_refused FAILED*",
    ])
    out = res.stdout.str()
    assert "zsmc: this program (stateful) has no depth: drop --zsmc-depth / depth= for this test" in out
    assert "zsmc_check: depth must be a positive integer, got 0" in out
    without = _run(pytester, "-v", "-k", "model_build")
    without.assert_outcomes(failed=1)           # depth 1 explored: fewer executions than depth 2
    json.dumps(out)


RT_ONLY = str(Path(__file__).parent / "variants" / "redteam3" / "free_preempt_disabled.py") + ":FreePreemptDisabled"


def test_config_rt_checks_the_model_on_preempt_rt(pytester):
    """A bug on PREEMPT_RT only: silent on !RT, found with config="rt"; config= is the
    model's, a build function refuses it in one line."""
    pytester.makepyfile(test_rt=f'''
import pytest

V = {RT_ONLY!r}


def test_silent_on_the_default_kernel(zsmc_check):
    zsmc_check(variant=V, scenario="read-compact", cpus=2)


@pytest.mark.zsmc(expect="violation")
def test_found_on_rt(zsmc_check):
    res = zsmc_check(variant=V, scenario="read-compact", cpus=2, config="rt")
    assert res.violations[0].property == "sleep-in-atomic"


def test_a_build_function_takes_no_config(zsmc_check):
    zsmc_check(lambda: None, config="rt")
''')
    res = _run(pytester, "-v")
    res.assert_outcomes(passed=2, failed=1)
    res.stdout.fnmatch_lines(["*zsmc: zsmc_check: config= applies to the model*"])
