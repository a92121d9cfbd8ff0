"""``zsmc variant new`` and ``zsmc variant diff`` (issue 15, point 2): a scaffold holds the
base's current code, checks exactly like its base until edited, and diffs against it."""

from __future__ import annotations

import json

import pytest
from clirun import run

from checker import explore
from cli.variant import model_functions, scaffold
from model.registry import VERSIONS, load_variant, make_build

SCENARIOS = ["smoke", "read-compact", "free-deferred", "up-clients"]


def counts(cls, scenario):
    build, _ = make_build(cls, scenario, 1)
    r = explore(build)
    return (r.executions, r.redundant, r.steps, r.complete, sorted(map(repr, r.outcomes)),
            [(v.property, v.message) for v in r.violations])


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_a_scaffold_of_every_function_checks_exactly_like_its_base(tmp_path, version):
    """The round trip: every model function of the base copied, nothing edited: the same
    executions, steps and outcomes on every scenario tried."""
    path = tmp_path / f"every_{version}.py"
    base = VERSIONS[version]
    res = run("variant", "new", str(path), "--base", version, "--class", "Every",
              *[a for f in model_functions(base) for a in ("--function", f)])
    assert res.exit_code == 0, res.output
    cls = load_variant(f"{path}:Every")
    assert cls.__bases__ == (base,)
    assert set(vars(cls)) >= set(model_functions(base))
    for scenario in SCENARIOS:
        assert counts(cls, scenario) == counts(base, scenario), scenario


def test_new_writes_the_class_imports_and_code(tmp_path):
    path = tmp_path / "fix_free.py"
    res = run("variant", "new", str(path), "--base", "upstream", "--function", "zs_free",
              "--function", "__zs_compact")
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines() == [
        f"wrote {path}: class FixFree(Upstream) with zs_free, _zs_compact",
        f"check it:  zsmc check --variant {path}:FixFree --depth 1",
        f"review it: zsmc variant diff {path}:FixFree"]
    text = path.read_text()
    assert "from model import Upstream\n" in text and "from checker import Bug, cond_resched, label\n" in text
    assert "from model.pool import ZS_INUSE_RATIO_0, ZS_INUSE_RATIO_100, ZS_OBJS_INUSE\n" in text
    assert "class FixFree(Upstream):" in text
    assert "    def zs_free(self, handle):" in text and "    def _zs_compact(self, cls):" in text
    # the check command it prints works as printed
    chk = run("check", "--variant", f"{path}:FixFree", "--depth", "1", "--scenario", "smoke", "-q")
    assert chk.exit_code == 0, chk.output
    # an existing file is kept unless --force
    again = run("variant", "new", str(path), "--function", "zs_free")
    assert again.exit_code == 2 and "exists; use --force" in again.stderr
    assert run("variant", "new", str(path), "--function", "zs_free", "--force").exit_code == 0


@pytest.mark.parametrize("name, close", [("zs_fre", "zs_free"), ("lock_zspages", "lock_zspage"),
                                         ("zspage_read_lok", "zspage_read_lock")])
def test_a_misspelt_function_is_exit_2_with_the_closest_names(tmp_path, name, close):
    res = run("variant", "new", str(tmp_path / "x.py"), "--function", name)
    assert res.exit_code == 2
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and f"upstream has no kernel function {name!r}; did you mean" in err[0]
    assert close in err[0]
    assert not (tmp_path / "x.py").exists()


def test_a_function_of_another_version_is_refused(tmp_path):
    res = run("variant", "new", str(tmp_path / "x.py"), "--base", "upstream", "--function", "zs_map_object")
    assert res.exit_code == 2 and "upstream has no kernel function 'zs_map_object'" in res.stderr
    ok = run("variant", "new", str(tmp_path / "x.py"), "--base", "v5", "--function", "zs_map_object")
    assert ok.exit_code == 0, ok.output


def test_diff_prints_each_function_against_the_base(tmp_path):
    path = tmp_path / "patch.py"
    run("variant", "new", str(path), "--function", "zs_free", "--function", "lock_zspage", "--class", "P")
    text = path.read_text().replace("        yield cls.lock.acquire()\n        yield pool.lock.release()\n",
                                    "        yield pool.lock.release()\n        yield cls.lock.acquire()\n")
    path.write_text(text)
    res = run("variant", "diff", f"{path}:P")
    assert res.exit_code == 0
    out = res.stdout
    assert out.splitlines()[0] == f"{path}:P against upstream: 2 function(s): zs_free, lock_zspage"
    assert f"--- upstream:zs_free\n+++ {path}:P:zs_free\n" in out
    assert "+    yield pool.lock.release()\n     yield cls.lock.acquire()\n-    yield pool.lock.release()\n" in out
    assert "lock_zspage: same code as upstream's" in out


def test_diff_of_a_mutation_and_bad_input():
    res = run("variant", "diff", "free-drops-pool-lock-early")
    assert res.exit_code == 0 and "+    yield pool.lock.release()           # the bug" in res.stdout
    for spec, words in [("upstream", "is a built-in version"), ("nope.py:X", "not found"),
                        ("writer-starvation", "not expressible")]:
        bad = run("variant", "diff", spec)
        assert bad.exit_code == 2 and words in bad.stderr, (spec, bad.stderr)


def test_functions_lists_what_new_accepts():
    res = run("variant", "functions", "legacy")
    assert res.exit_code == 0
    rows = {ln.split()[0]: ln.split()[1:] for ln in res.stdout.splitlines()}
    assert rows["migrate_write_lock"] == ["MigrateRwLock", "kernel", "function"]
    assert rows["zs_map_object"][0] == "MapAccess" and "zs_obj_write" not in rows
    assert run("variant", "functions", "v6").exit_code == 2


def test_scaffold_is_importable_text():
    text = scaffold("v5", ["zspage_write_trylock", "local_lock"], "W")
    compile(text, "w.py", "exec")
    assert "class W(V5):" in text and json.dumps("W")
