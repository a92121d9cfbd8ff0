"""The classic litmus tests under ``--memory-model ra``, each with its exact set of outcomes.

Every row names a test, its threads and the outcomes the model must produce:
exactly those, so a forbidden outcome never appears and an allowed weak one
does.  The sources (docs/memory-model.md): RC11's release/acquire and relaxed
fragment (Lahav et al., PLDI 2017), the LKMM's litmus tests
(tools/memory-model/litmus-tests/ in the kernel) and the RA papers.  Where the
model is stronger than C11 (LB's cycle) or than the LKMM, the row says so.
The same programs under ``sc`` give the sequentially consistent outcomes only.

A thread is a list of operations: ``("w", var, value, order)`` a store,
``("r", var, order)`` a load whose value is recorded, ``("x", var, value, order)``
an exchange (an RMW; records the old value), ``("f", kind)`` a fence.  An outcome
is the recorded values in thread order, then the final values of ``final``.
"""

from __future__ import annotations

import pytest

from checker import Program, SpinLock, Task, Var, explore
from checker.actions import fence
from checker.atomics import ACQUIRE, FULL, RELAXED, RELEASE

RLX, ACQ, REL = RELAXED, ACQUIRE, RELEASE


def litmus(threads, final=(), memory_model="ra", lock=False, cpus=None):
    """A build for ``threads``; ``lock``: each thread runs inside one spinlock; ``cpus``:
    the Program's (None: a CPU each)."""
    def build():
        vs = {}
        got = [[] for _ in threads]

        def var(name):
            if name not in vs:
                vs[name] = Var(name, 0)
            return vs[name]

        for ops in threads:
            for op in ops:
                if op[0] != "f":
                    var(op[1])
        for name in final:
            var(name)
        lk = SpinLock("l")

        def thread(i, ops):
            def run():
                if lock:
                    yield lk.acquire()
                for k in range(len(ops)):      # k a local: a repeated load is no spin loop
                    op = ops[k]
                    if op[0] == "w":
                        yield vs[op[1]].write(op[2], op[3])
                    elif op[0] == "r":
                        got[i].append((yield vs[op[1]].read(op[2])))
                    elif op[0] == "x":
                        got[i].append((yield vs[op[1]].rmw(lambda _, v=op[2]: v, op[3])))
                    else:
                        yield fence(op[1])
                if lock:
                    yield lk.release()
            return run

        def observe():
            return tuple(v for g in got for v in g) + tuple(vs[n].value for n in final)

        return Program([Task(thread(i, ops), f"t{i}") for i, ops in enumerate(threads)],
                       observe=observe, memory_model=memory_model, cpus=cpus)
    return build


def W(v, x, o=RLX):  # noqa: N802
    return ("w", v, x, o)


def R(v, o=RLX):  # noqa: N802
    return ("r", v, o)


MB, RMB, WMB = ("f", "mb"), ("f", "rmb"), ("f", "wmb")
ALL2 = {(0, 0), (0, 1), (1, 0), (1, 1)}

# name: (threads, final, outcomes under ra, the weak outcomes among them (absent under sc))
TABLE = {
    # Store buffering: both loads may miss the other's store, unless smp_mb (or a
    # fully ordered RMW) separates store and load.  LKMM: SB+poonceonces Sometimes,
    # SB+fencembonceonces Never.
    "SB": ([[W("x", 1), R("y")], [W("y", 1), R("x")]], (), ALL2, {(0, 0)}),
    "SB+rel+acq": ([[W("x", 1, REL), R("y", ACQ)], [W("y", 1, REL), R("x", ACQ)]], (), ALL2, {(0, 0)}),
    "SB+mbs": ([[W("x", 1), MB, R("y")], [W("y", 1), MB, R("x")]], (), ALL2 - {(0, 0)}, set()),
    "SB+xchgs": ([[("x", "x", 1, FULL), R("y")], [("x", "y", 1, FULL), R("x")]], (),
                 {(0, 1, 0, 0), (0, 0, 0, 1), (0, 1, 0, 1)}, set()),
    # Message passing: the flag read as 1 and the data as 0 needs no synchronisation.
    # LKMM: MP+poonceonces Sometimes, MP+pooncerelease+poacquireonce Never,
    # MP+fencewmbonceonce+fencermbonceonce Never.
    "MP": ([[W("x", 1), W("y", 1)], [R("y"), R("x")]], (), ALL2, {(1, 0)}),
    "MP+rel+acq": ([[W("x", 1), W("y", 1, REL)], [R("y", ACQ), R("x")]], (), ALL2 - {(1, 0)}, set()),
    "MP+wmb+rmb": ([[W("x", 1), WMB, W("y", 1)], [R("y"), RMB, R("x")]], (), ALL2 - {(1, 0)}, set()),
    "MP+rel+rlx": ([[W("x", 1), W("y", 1, REL)], [R("y"), R("x")]], (), ALL2, {(1, 0)}),
    "MP+locks": ([[W("x", 1), W("y", 1)], [R("y"), R("x")]], (), {(0, 0), (1, 1)}, set()),
    # Load buffering: C11 and the LKMM (for plain onces) allow (1, 1); RC11 and this
    # model do not (a load reads only stores that have executed).
    "LB": ([[R("x"), W("y", 1)], [R("y"), W("x", 1)]], (), ALL2 - {(1, 1)}, set()),
    "LB+acq+rel": ([[R("x", ACQ), W("y", 1, REL)], [R("y", ACQ), W("x", 1, REL)]], (),
                   ALL2 - {(1, 1)}, set()),
    # 2+2W: final x = 1 and y = 1 needs mo against program order on both sides:
    # allowed by C11 RA (forbidden by SRA), forbidden with smp_mb.
    "2+2W": ([[W("x", 1), W("y", 2)], [W("y", 1), W("x", 2)]], ("x", "y"),
             {(2, 1), (1, 2), (2, 2), (1, 1)}, {(1, 1)}),
    "2+2W+rel": ([[W("x", 1, REL), W("y", 2, REL)], [W("y", 1, REL), W("x", 2, REL)]], ("x", "y"),
                 {(2, 1), (1, 2), (2, 2), (1, 1)}, {(1, 1)}),
    "2+2W+mbs": ([[W("x", 1), MB, W("y", 2)], [W("y", 1), MB, W("x", 2)]], ("x", "y"),
                 {(2, 1), (1, 2), (2, 2)}, set()),
    # Independent reads of independent writes: two readers disagree on the order of
    # two writes; acquire loads do not forbid it in C11 (RA is not multi-copy
    # atomic), smp_mb between the loads does (LKMM IRIW+fencembonceonces Never).
    "IRIW+acq": ([[W("x", 1)], [W("y", 1)], [R("x", ACQ), R("y", ACQ)], [R("y", ACQ), R("x", ACQ)]],
                 (), None, {(1, 0, 1, 0)}),
    "IRIW+mbs": ([[W("x", 1)], [W("y", 1)], [R("x"), MB, R("y")], [R("y"), MB, R("x")]],
                 (), None, set()),
    # Write-to-read causality: release/acquire is cumulative (LKMM
    # WRC+pooncerelease+fencermbonceonce+Once Never; WRC+poonceonces+Once Sometimes).
    "WRC": ([[W("x", 1)], [R("x"), W("y", 1)], [R("y"), R("x")]], (), None, {(1, 1, 0)}),
    "WRC+rel+acq": ([[W("x", 1)], [R("x"), W("y", 1, REL)], [R("y", ACQ), R("x")]], (), None, set()),
    # R: final y = 2 with the load missing x (LKMM R+poonceonces Sometimes,
    # R+fencembonceonces Never).
    "R": ([[W("x", 1), W("y", 1)], [W("y", 2), R("x")]], ("y",),
          {(0, 1), (0, 2), (1, 1), (1, 2)}, {(0, 2)}),
    "R+mbs": ([[W("x", 1), MB, W("y", 1)], [W("y", 2), MB, R("x")]], ("y",),
              {(0, 1), (1, 1), (1, 2)}, set()),
    # S: the load sees y = 1 yet the other store to x wins (LKMM S+poonceonces
    # Sometimes, S+fencewmbonceonce+poacquireonce Never).
    "S": ([[W("x", 2), W("y", 1)], [R("y"), W("x", 1)]], ("x",),
          {(0, 1), (0, 2), (1, 1), (1, 2)}, {(1, 2)}),
    "S+wmb+acq": ([[W("x", 2), WMB, W("y", 1)], [R("y", ACQ), W("x", 1)]], ("x",),
                  {(0, 1), (0, 2), (1, 1)}, set()),
    # Coherence: one location's stores are seen in one order by everybody.
    "CoRR": ([[W("x", 1)], [R("x"), R("x")]], (), {(0, 0), (0, 1), (1, 1)}, set()),
    "CoRR2": ([[W("x", 1)], [W("x", 2)], [R("x"), R("x")], [R("x"), R("x")]], (), None, set()),
}


def outcomes(name, memory_model="ra", scheduler="dfs"):
    threads, final, _, _ = TABLE[name]
    res = explore(litmus(threads, final, memory_model, lock=name == "MP+locks"),
                  scheduler=scheduler, properties=[])
    assert res.complete, res.reason
    return res.outcomes


def _coherent(out) -> bool:
    """CoRR2: the two readers never see x's stores in opposite orders."""
    a, b = out[0:2], out[2:4]
    return not ((a == (1, 2) and b == (2, 1)) or (a == (2, 1) and b == (1, 2)))


@pytest.mark.parametrize("name", sorted(TABLE))
def test_litmus_outcomes_are_exactly_the_allowed_ones(name):
    threads, final, allowed, weak = TABLE[name]
    ra = outcomes(name)
    sc = outcomes(name, "sc")
    assert weak <= ra, f"{name}: the allowed weak outcomes {weak - ra} never appear"
    assert not weak & sc, f"{name}: sc produced a weak outcome"
    assert sc <= ra
    if allowed is not None:
        assert ra == allowed, f"{name}: got {sorted(ra)}, allowed {sorted(allowed)}"
    else:
        assert ra - sc == weak, f"{name}: weak outcomes {sorted(ra - sc)}, expected {sorted(weak)}"
    if name == "CoRR2":
        assert all(_coherent(o) for o in ra)


@pytest.mark.parametrize("name", sorted(n for n, row in TABLE.items()
                                         if "mb" not in n and "xchgs" not in n))
def test_dpor_takes_the_choices_itself(name):
    """dpor explores a weak model's choices as choose() values: the outcomes of dfs."""
    threads, final, _, _ = TABLE[name]
    build = litmus(threads, final, lock=name == "MP+locks")
    got = explore(build, scheduler="dpor", properties=[])
    assert got.scheduler == "dpor" and not got.note and got.complete
    assert got.outcomes == explore(build, scheduler="dfs", properties=[]).outcomes


@pytest.mark.parametrize("name", ["SB+mbs", "SB+xchgs"])
def test_dpor_hands_smp_mb_to_dfs_and_says_so(name):
    """smp_mb's global view reads every location, which no dpor footprint says."""
    threads, final, allowed, _ = TABLE[name]
    res = explore(litmus(threads, final), scheduler="dpor", properties=[])
    assert res.scheduler == "dfs" and res.complete and res.outcomes == allowed
    assert "smp_mb" in res.note and "explored by dfs" in res.note


def test_a_bounded_search_hands_a_weak_program_to_dfs_and_says_so():
    threads, final, allowed, _ = TABLE["MP+rel+acq"]
    res = explore(litmus(threads, final, cpus=1), scheduler="dpor", preemption_bound=1,
                  properties=[])
    assert res.scheduler == "dfs" and res.complete
    assert "memory model ra" in res.note and "explored by dfs" in res.note


def test_a_scheduler_instance_without_the_model_is_refused():
    from checker.errors import UsageError
    from checker.schedulers.bounded_dpor import BoundedDPOR
    threads, final, _, _ = TABLE["MP"]
    with pytest.raises(UsageError, match="memory model ra"):
        explore(litmus(threads, final), scheduler=BoundedDPOR(1), properties=[])


def test_random_sampling_reaches_a_weak_outcome():
    threads, final, _, weak = TABLE["SB"]
    res = explore(litmus(threads, final), scheduler="random", max_executions=200, seed=1,
                  properties=[])
    assert weak <= res.outcomes


def test_a_weak_trace_replays_with_its_read_from_choices():
    from checker.schedulers.dfs import DFS
    from checker.schedulers.replay import Replay
    threads, final, _, _ = TABLE["SB"]
    build = litmus(threads, final)

    class Keep(DFS):
        kept = None

        def end_execution(self, world, status):
            if self.kept is None and world.program.observe() == (0, 0):
                self.kept = [(e.task, e.choice) for e in world.events]
            super().end_execution(world, status)

    keep = Keep()
    explore(build, scheduler=keep, properties=[])
    assert any(c is not None for _, c in keep.kept)
    again = explore(build, scheduler=Replay(keep.kept), properties=[])
    assert again.outcomes == {(0, 0)}
