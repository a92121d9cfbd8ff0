"""Benchmark programs and the engine benchmark script (not installed; used by tests and bench runs)."""
