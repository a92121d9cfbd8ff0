"""``ra`` against an axiomatic oracle on random programs (Hypothesis).

The oracle enumerates every reads-from and modification-order candidate of a
small straight-line program and keeps the consistent ones, by the axioms of
RC11 for release/acquire and relaxed accesses (Lahav et al., PLDI 2017, no SC
accesses, no fences): atomicity of RMWs, no (po | rf) cycle, coherence
(``hb ; eco`` irreflexive), with hb = (po | sw)+ and release sequences of RMW
chains (C++20).  The engine's outcomes under ``ra`` (dfs, exhaustive) must be
exactly the oracle's: every consistent outcome appears and no other.  Fences
and ``smp_mb`` are left to the litmus table (tests/test_litmus.py).
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from checker import explore
from checker.atomics import ACQUIRE, RELAXED, RELEASE
from test_litmus import litmus

LOCS = ("x", "y")
_ACQS = (ACQUIRE,)
_RELS = (RELEASE,)


def _closure(n, pairs):
    reach = [[False] * n for _ in range(n)]
    for a, b in pairs:
        reach[a][b] = True
    for k in range(n):
        rk = reach[k]
        for i in range(n):
            if reach[i][k]:
                ri = reach[i]
                for j in range(n):
                    if rk[j]:
                        ri[j] = True
    return reach


def oracle(threads, final):
    """The outcomes of every RC11-consistent execution of ``threads`` (see the module)."""
    ev = []                                     # (thread, kind R/W/U, loc, value, order)
    for loc in LOCS:
        ev.append((None, "W", loc, 0, RELAXED))  # the initial stores
    po = []
    for t, ops in enumerate(threads):
        prev = None
        for op in ops:
            kind = {"w": "W", "r": "R", "x": "U"}[op[0]]
            ev.append((t, kind, op[1], op[2] if kind != "R" else None, op[-1]))
            i = len(ev) - 1
            po.extend((k, i) for k in range(len(LOCS)))     # init before everything
            if prev is not None:
                po.append((prev, i))
            prev = i
    n = len(ev)
    reads = [i for i, e in enumerate(ev) if e[1] in "RU"]
    writes = {loc: [i for i, e in enumerate(ev) if e[1] in "WU" and e[2] == loc] for loc in LOCS}
    out = set()
    for rf_src in itertools.product(*[writes[ev[r][2]] for r in reads]):
        rf = dict(zip(reads, rf_src))
        if any(w == r for r, w in rf.items()):
            continue
        for perms in itertools.product(*[itertools.permutations(writes[loc][1:]) for loc in LOCS]):
            mo_pos = {}
            for loc, perm in zip(LOCS, perms):
                for k, w in enumerate((writes[loc][0],) + perm):
                    mo_pos[w] = k
            if not _consistent(ev, n, po, rf, mo_pos):
                continue
            vals = []
            for t in range(len(threads)):
                vals.extend(ev[rf[i]][3] for i in reads if ev[i][0] == t)
            last = {loc: max(writes[loc], key=mo_pos.get) for loc in LOCS}
            out.add(tuple(vals) + tuple(ev[last[loc]][3] for loc in final))
    return out


def _consistent(ev, n, po, rf, mo_pos) -> bool:
    for r, w in rf.items():                     # atomicity: an RMW follows what it read
        if ev[r][1] == "U" and mo_pos[r] != mo_pos[w] + 1:
            return False
    if any(_closure(n, po + [(w, r) for r, w in rf.items()])[i][i] for i in range(n)):
        return False                            # no load buffering (po | rf acyclic)
    sw = []
    for r, w in rf.items():
        if ev[r][4] not in _ACQS:
            continue
        s = w
        while True:                             # the release sequences w belongs to
            if ev[s][4] in _RELS and ev[s][0] is not None:
                sw.append((s, r))
            if ev[s][1] != "U":
                break
            s = rf[s]
    hb = _closure(n, po + sw)
    mo = [(a, b) for a in mo_pos for b in mo_pos
          if ev[a][2] == ev[b][2] and mo_pos[a] < mo_pos[b]]
    fr = [(r, b) for r, w in rf.items() for b in mo_pos
          if ev[b][2] == ev[w][2] and mo_pos[w] < mo_pos[b] and b != r]
    eco = _closure(n, [(w, r) for r, w in rf.items()] + mo + fr)
    for a in range(n):
        if hb[a][a]:
            return False
        for b in range(n):
            if hb[a][b] and (eco[b][a] or a == b):
                return False
    return True


_ORDER = st.sampled_from((RELAXED, ACQUIRE, RELEASE))


@st.composite
def programs(draw):
    nthreads = draw(st.integers(2, 3))
    value = itertools.count(1)
    threads = []
    for _ in range(nthreads):
        ops = []
        for _ in range(draw(st.integers(1, 3 if nthreads == 2 else 2))):
            kind = draw(st.sampled_from("wrx"))
            loc = draw(st.sampled_from(LOCS))
            if kind == "w":
                ops.append(("w", loc, next(value), draw(st.sampled_from((RELAXED, RELEASE)))))
            elif kind == "r":
                ops.append(("r", loc, draw(st.sampled_from((RELAXED, ACQUIRE)))))
            else:
                ops.append(("x", loc, next(value), draw(_ORDER)))
        threads.append(ops)
    return threads


def _engine(threads, final):
    res = explore(litmus(threads, final), scheduler="dfs", properties=[])
    assert res.complete
    return res.outcomes


@settings(max_examples=120, deadline=None)
@given(programs())
def test_ra_outcomes_are_exactly_the_axiomatic_ones(threads):
    assert _engine(threads, LOCS) == oracle(threads, LOCS), threads


def test_the_oracle_knows_the_classics():
    mp = [[("w", "x", 1, RELAXED), ("w", "y", 2, RELEASE)], [("r", "y", ACQUIRE), ("r", "x", RELAXED)]]
    assert (2, 0) not in oracle(mp, ()) and (0, 0) in oracle(mp, ())
    w22 = [[("w", "x", 1, RELAXED), ("w", "y", 2, RELAXED)], [("w", "y", 3, RELAXED), ("w", "x", 4, RELAXED)]]
    assert (1, 3) in oracle(w22, LOCS)
    lb = [[("r", "x", RELAXED), ("w", "y", 1, RELAXED)], [("r", "y", RELAXED), ("w", "x", 2, RELAXED)]]
    assert (2, 1) not in oracle(lb, ())


@settings(max_examples=120, deadline=None)
@given(programs(), st.booleans(), st.booleans())
def test_dpor_explores_every_ra_outcome_dfs_does(threads, one_cpu, lock):
    """dpor takes a weak model's choices as choose() values (checker/schedulers/dpor.py):
    the same outcomes as dfs, on a CPU each and on one shared CPU (with a spinlock
    around each thread: atomic sections, dpor's macro steps)."""
    build = litmus(threads, LOCS, cpus=1 if one_cpu else None, lock=lock)
    ref = explore(build, scheduler="dfs", properties=[])
    got = explore(build, scheduler="dpor", properties=[])
    assert got.scheduler == "dpor" and got.complete
    assert got.outcomes == ref.outcomes, threads
    assert got.executions <= ref.executions
