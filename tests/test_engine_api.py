"""The public API as a contract: the issue's example, clear errors, the import direction.

Issue 2 pins the names and behaviour of ``checker``'s API (acceptance tests
outside this repository use them), asks that bad input raise one clear
error naming the task and the action, and ARCHITECTURE.md section 1 fixes
the direction of imports between the layers.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import checker
from checker import (
    ModelError,
    Mutex,
    Program,
    RwLock,
    SpinLock,
    Task,
    UsageError,
    Var,
    explore,
    preempt_disable,
    preempt_enable,
)

ROOT = Path(__file__).resolve().parent.parent


# -- the issue's example, as written --------------------------------------------------

def issue_build():
    from checker import (Program, Task, Var, SpinLock, RwLock, Mutex, explore,  # noqa: F401, I001
                         preempt_disable, preempt_enable, cond_resched, might_sleep, choose)

    x = Var("x", 0)
    lk = SpinLock("lk")
    seen = []

    def writer():
        yield lk.acquire()
        v = yield x.read()
        yield x.write(v + 1)
        yield lk.release()

    def reader():
        ok = yield lk.try_acquire()
        if ok:
            yield lk.release()
        v = yield x.spin_until(lambda v: v > 0)
        seen.append(v)
    return Program([writer, Task(reader, name="r", cpu=0)], cpus=None,
                   observe=lambda: tuple(seen))


ISSUE_NAMES = ["Program", "Task", "Var", "SpinLock", "RwLock", "Mutex", "explore",
               "preempt_disable", "preempt_enable", "cond_resched", "might_sleep", "choose"]
OTHER_NAMES = ["RwSemaphore", "PageLock", "LockMap", "RawSpinLock", "LocalLock", "KernelConfig", "MemoryModel", "atomics", "memory_model", "Obj", "sleep", "label", "alloc", "free",
               "access", "pin", "unpin", "Result", "Violation", "Monitor", "register",
               "ModelError", "UsageError"]


def test_public_api_has_the_issue_names():
    for name in ISSUE_NAMES + OTHER_NAMES:
        assert name in checker.__all__, name
        assert getattr(checker, name) is not None
    assert sorted(set(checker.__all__)) == sorted(checker.__all__)   # no duplicates


def test_issue_example_runs_as_written():
    r = explore(issue_build)
    assert r.scheduler == "dpor"
    assert r.complete and r.ok and r.redundant == 0 and r.deadlocks == 0
    # The reader spins until the writer's increment: it always sees 1.
    assert r.outcomes == {(1,)}
    d = explore(issue_build, scheduler="dfs")
    assert d.complete and d.outcomes == {(1,)}
    assert 1 <= r.executions <= d.executions
    # The trylock succeeds or fails depending on the interleaving: more than one run.
    assert r.executions >= 2
    k = explore(issue_build, stop_on_violation=False)
    assert k.complete and k.outcomes == {(1,)}
    b = explore(issue_build, preemption_bound=2, max_executions=10_000, time_limit=60, seed=0)
    assert b.complete and b.outcomes == {(1,)} and b.preemption_bound == 2
    assert isinstance(r.violations, list)


def test_issue_example_places_tasks_on_cpus():
    p = issue_build()
    assert [(t.name, t.cpu) for t in p.specs] == [("writer", 1), ("r", 0)]


# -- bad input: one clear line naming the task and the action ---------------------------

def one_task(fn, name="victim"):
    return lambda: Program([Task(fn, name=name)])


def error_of(build, exc=ModelError, **kw):
    with pytest.raises(exc) as info:
        explore(build, properties=[], **kw)
    msg = str(info.value)
    assert "\n" not in msg, msg
    assert "Traceback" not in msg
    return msg


@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_yielding_a_non_action_names_the_task_and_the_value(scheduler):
    x = [0]

    def task():
        yield Var("x").read()
        yield 42
        x[0] += 1
    msg = error_of(one_task(task), scheduler=scheduler)
    assert "victim" in msg and "42" in msg and "not an action" in msg


def test_yielding_an_unbuilt_action_method_names_the_task():
    def task():
        yield Var("x").read      # forgot the call
    msg = error_of(one_task(task))
    assert "victim" in msg and "not an action" in msg


@pytest.mark.parametrize("kind", [SpinLock, Mutex, RwLock])
def test_releasing_a_lock_not_held_is_lockdeps_bad_unlock_balance(kind):
    """A finding (a mutated kernel function can unlock what it never locked), not an error."""
    def task():
        lk = kind("biglock")
        yield lk.release()
    r = explore(one_task(task), properties=[])
    assert [v.property for v in r.violations] == ["lock-balance"]
    msg = r.violations[0].message
    assert "bad unlock balance" in msg and "victim" in msg and "release(biglock)" in msg
    assert "does not hold" in msg


def test_releasing_a_lock_held_by_another_task_is_a_bad_unlock_too():
    def build():
        lk = Mutex("m")

        def owner():
            yield lk.acquire()

        def thief():
            yield lk.release()
        return Program([Task(owner, name="owner"), Task(thief, name="thief")])
    r = explore(build, scheduler="dfs", properties=[])
    assert r.violations and r.violations[0].property == "lock-balance"
    assert "thief" in r.violations[0].message and "release(m)" in r.violations[0].message


def test_a_task_that_is_not_a_generator_function_is_named():
    def not_a_generator():
        return 1
    msg = error_of(one_task(not_a_generator, name="plain"))
    assert "plain" in msg and "not a generator function" in msg
    msg = error_of(lambda: Program([Task(print, name="builtin")]))
    assert "builtin" in msg


def test_preempt_enable_without_disable_names_the_task():
    def task():
        yield preempt_disable()
        yield preempt_enable()
        yield preempt_enable()
    msg = error_of(one_task(task))
    assert "victim" in msg and "preempt_enable()" in msg and "preempt_disable" in msg


def test_a_task_raising_an_exception_names_the_task_and_the_last_action():
    def task():
        yield Var("x").write(3)
        raise KeyError("oops")
    msg = error_of(one_task(task))
    assert "victim" in msg and "KeyError" in msg and "write(x, 3)" in msg


def test_bad_model_objects_are_rejected_at_definition():
    with pytest.raises(ModelError, match="no shared mode"):
        Mutex("m").acquire(shared=True)
    with pytest.raises(ModelError, match="callable"):
        Var("x").spin_until(3)
    with pytest.raises(ModelError, match="at least one option"):
        checker.choose([])
    with pytest.raises(ModelError, match="non-empty list of tasks"):
        Program([])
    with pytest.raises(ModelError, match="pinned to CPU 3"):
        Program([Task(gen_task, cpu=3)], cpus=2)


def gen_task():
    yield Var("x").read()


def noop_build():
    def t():
        yield Var("x").read()
    return Program([t])


@pytest.mark.parametrize("kwargs,words", [
    ({"scheduler": "bfs"}, ["bfs", "dpor", "dfs"]),
    ({"scheduler": 3}, ["scheduler"]),
    ({"max_executions": -1}, ["max_executions", "-1"]),
    ({"max_executions": 1.5}, ["max_executions"]),
    ({"preemption_bound": "2"}, ["preemption_bound"]),
    ({"preemption_bound": True}, ["preemption_bound"]),
    ({"time_limit": 0}, ["time_limit"]),
    ({"time_limit": "60"}, ["time_limit"]),
    ({"properties": ["no-such-property"]}, ["no-such-property"]),
    ({"properties": [3]}, ["property"]),
])
def test_bad_explore_arguments_are_one_line_usage_errors(kwargs, words):
    with pytest.raises(UsageError) as info:
        explore(noop_build, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, (w, msg)


def test_bad_build_functions_are_usage_errors():
    with pytest.raises(UsageError, match="build function"):
        explore(42)
    with pytest.raises(UsageError, match="must return a checker.Program"):
        explore(lambda: [noop_build], properties=[])


# -- the direction of imports (ARCHITECTURE.md section 1) ----------------------------------

FACES = ("cli", "pytest_zsmc")


def module_files():
    for pkg in ("checker", "model", "properties"):
        yield from sorted((ROOT / pkg).rglob("*.py"))
    yield from sorted((ROOT / "cli").rglob("*.py"))
    for face in FACES:
        if (ROOT / f"{face}.py").exists():
            yield ROOT / f"{face}.py"


def imports_in(source: str, package: tuple, filename="<source>") -> list:
    """``(top-level package, line)`` of every import in ``source``, wherever it
    stands: at module level, inside a function (a lazy import is an import
    too) or as ``importlib.import_module("...")``/``__import__("...")`` of a
    literal name.  Relative imports resolve against ``package``."""
    out = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            out.extend((a.name.split(".")[0], node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
                top = base[0] if base else (node.module or "").split(".")[0]
            else:
                top = (node.module or "").split(".")[0]
            out.append((top, node.lineno))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", None)
            if name in ("import_module", "__import__"):
                out.append((node.args[0].value.split(".")[0], node.lineno))
    return out


def imports_of(path: Path) -> list:
    rel = path.relative_to(ROOT).with_suffix("").parts
    return imports_in(path.read_text(), rel[:-1], str(path))     # an __init__'s package is its directory


def test_the_import_scanner_sees_every_kind_of_import():
    found = imports_in(textwrap.dedent("""
        import time
        from . import actions
        def later():
            from model.registry import make_build
            import properties.lock_order
        class C:
            def m(self):
                return importlib.import_module("cli_check"), __import__("pytest_zsmc")
    """), ("checker",))
    assert [top for top, _ in found] == ["time", "checker", "model", "properties", "cli_check", "pytest_zsmc"]
    assert ("time", 2) in found and ("model", 5) in found       # where each stands


def test_imports_point_the_right_way():
    """ARCHITECTURE.md section 1, with no exemption: checker imports no model,
    property or face anywhere (properties are found by name, checker.monitor);
    model and properties import no face."""
    upper = {"model", "properties", *FACES}
    bad = []
    for path in module_files():
        layer = path.relative_to(ROOT).parts[0].removesuffix(".py")
        for top, line in imports_of(path):
            if layer == "checker" and top in upper or layer in ("model", "properties") and top in FACES:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {top}")
    assert not bad, "\n".join(bad)


def test_checker_names_no_model_module_even_as_a_string():
    """Only the property registry names modules above the engine (by dotted path,
    resolved lazily: ARCHITECTURE.md section 4); nothing names the model."""
    dotted = re.compile(r"^(model|properties)(\.\w+)+(:[\w.]+)?$")
    bad = []
    for path in sorted((ROOT / "checker").rglob("*.py")):
        tree = ast.parse(path.read_text())
        docs = {id(n.body[0].value) for n in ast.walk(tree)
                if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for n in ast.walk(tree):
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs \
                    and dotted.match(n.value) and not (path.name == "monitor.py" and n.value.startswith("properties.")):
                bad.append(f"{path.relative_to(ROOT)}:{n.lineno} names {n.value}")
    assert not bad, "\n".join(bad)


def test_importing_checker_loads_only_the_standard_library():
    code = ("import sys, checker; "
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split()
    loaded = set(out)
    for heavy in ("model", "properties", "cli", "pytest_zsmc", "z3", "hypothesis", "pytest", "click"):
        assert heavy not in loaded, heavy
