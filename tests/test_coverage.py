"""checker.traced / checker.covered on generic programs."""

from __future__ import annotations

import pytest

from checker import ModelError, Program, Task, Var, covered, explore, label, traced


def test_traced_functions_and_overlapping_operations_are_recorded():
    def _op(v):
        yield v.write(1)
        yield v.read()

    op = traced(_op, "op", family="write")

    def build():
        v = Var("v")

        def a():
            yield from op(v)
            covered("custom")

        def b():
            yield label("later")        # b's op starts with its second step
            yield from op(v)

        return Program([Task(a, "A"), Task(b, "B")])

    r = explore(build, properties=[])
    assert r.coverage["fn:op"] == r.executions
    assert r.coverage["custom"] == r.executions
    # The two ops overlap in some executions (one starts while the other runs), not in all.
    assert 0 < r.coverage["pair:write+write"] < r.executions


def test_a_traced_generator_never_run_is_a_model_error():
    def _inner(v):
        yield v.write(1)

    inner = traced(_inner, "inner")

    def build():
        v = Var("v")

        def a():
            yield label("a")
            inner(v)                # no yield from
            yield label("b")

        return Program([Task(a, "A")])

    with pytest.raises(ModelError, match=r"inner\(\) was called in a \(test_coverage.py:\d+\)"):
        explore(build, properties=[])


def test_traced_needs_a_generator_function():
    with pytest.raises(TypeError):
        traced(lambda: 1, "x")
