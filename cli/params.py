"""The command line's value types: each names the option and the value it refuses."""

from __future__ import annotations

import math

import click

from checker.budget import MAX_CPUS, MAX_DEPTH  # noqa: F401  (the options' bounds, checker/budget.py)


class PositiveInt(click.ParamType):
    """An integer >= ``low``, with a message that names the option and the value."""

    name = "integer"

    def __init__(self, low: int = 1, high: int | None = None):
        self.low = low
        self.high = high

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            n = value
        else:
            try:
                n = int(str(value).strip(), 10)
            except ValueError:
                n = None
        if n is None or n < self.low:
            what = "a positive integer" if self.low == 1 else f"an integer >= {self.low}"
            self.fail(f"must be {what}, got {value!r}", param, ctx)
        if self.high is not None and n > self.high:
            self.fail(f"must be at most {self.high}, got {value!r}", param, ctx)
        return n


class Seconds(click.ParamType):
    """A positive, finite number of seconds (``nan`` and ``inf`` are refused)."""

    name = "seconds"

    def convert(self, value, param, ctx):
        try:
            x = float(value)
        except (TypeError, ValueError):
            x = None
        if x is None or not math.isfinite(x) or x <= 0:
            self.fail(f"must be a positive, finite number of seconds, got {value!r}", param, ctx)
        return x


class BoundType(PositiveInt):
    """A preemption bound: a non-negative integer or ``auto``."""

    name = "bound"

    def __init__(self):
        super().__init__(0)

    def convert(self, value, param, ctx):
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            self.fail(f"must be a non-negative integer or auto, got {value!r}", param, ctx)
