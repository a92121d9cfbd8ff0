"""Expected execution counts of the programs in ``bench/programs.py``.

``traces`` is the Mazurkiewicz trace count, what an optimal DPOR explores;
``interleavings`` the count with no reduction, what ``dfs`` explores.  Closed
forms and table values are those of dpor-benchmarks.md section 3 (sizes
outside the ranges where a closed form holds give None).
"""

from __future__ import annotations

from math import factorial

__all__ = ["interleavings", "traces"]


def _multinomial(parts) -> int:
    out = factorial(sum(parts))
    for p in parts:
        out //= factorial(p)
    return out


def traces(name: str, *args) -> int | None:
    """The Mazurkiewicz trace count of ``name(*args)`` (dpor-benchmarks.md section 3), or None."""
    n = args[0]
    if name == "readers":
        return 2 ** n
    if name == "lastzero":
        return (n + 3) * 2 ** (n - 2) if n >= 2 else 2
    if name in ("lastwrite", "n_rw_lock", "n_reads_lock", "n_writes_lock"):
        return factorial(n)
    if name == "n_writers_a_reader":
        return factorial(n + 1)
    if name == "account":
        return factorial(n + 1) ** 2
    if name == "philosophers":
        return 2 ** n - 1
    if name == "philosophers_ordered":
        return 2 ** n - 2
    if name == "filesystem":
        return 1 if n <= 13 else 2 ** (n - 13) if n <= 26 else None
    if name == "indexer":
        return 1 if n <= 11 else 8 ** (n - 11) if n <= 22 else None
    if name == "independent":
        return 1
    if name == "counter" and tuple(args) == (3, 2):
        return 7134
    return None


def interleavings(name: str, *args) -> int | None:
    """The number of interleavings (no reduction) where a closed form or table value is known."""
    n = args[0]
    if name == "readers":
        return factorial(n + 1)
    if name == "lastwrite":
        return factorial(n)
    if name == "n_writers_a_reader":
        return factorial(n + 1)
    if name == "account":
        # N+1 tasks of two steps each, no blocking.
        return _multinomial([2] * (n + 1))
    if name == "independent":
        return _multinomial([args[1]] * n)
    if name == "counter":
        return _multinomial([2 * args[1]] * n)
    table = {
        "lastzero": {2: 35, 3: 920, 4: 44_300, 5: 3_487_880},
        "philosophers": {2: 6, 3: 168, 4: 98_184, 5: 66_468_720},
        "philosophers_ordered": {2: 2, 3: 142, 4: 64_000, 5: 49_719_072},
    }
    return table.get(name, {}).get(n)
