"""Model mutants: variants of the built-in versions derived automatically, and the
differential check that ``dpor`` reports on each what the oracles report.

A verifier's "pass" is only as good as its reduction is sound on the code it is
given, and a reviewer's patch is code nobody has seen.  So instead of trusting
hand-picked examples, this derives variants of the built-in versions by three
operators on the source of their kernel functions (``ast``):

* ``drop-lock``: remove one lock acquisition and its matching release
  (``yield X.acquire()`` ... ``yield X.release()``, or ``yield from
  self.F_lock(...)`` ... ``yield from self.F_unlock(...)``);
* ``move``: swap a lock operation with the statement after it (an access
  moved out of or into a critical section);
* ``skip-check``: turn one ``if`` whose body ends the path (``raise``,
  ``return``, ``break``, ``continue``) into ``if False`` (a re-check skipped).

and checks each on small scenarios: on one CPU, where ``dfs`` (no reduction)
finishes, ``dpor`` must report exactly the set of violated properties ``dfs``
reports; on two CPUs, where ``dfs`` cannot finish, ``dpor``'s set must
contain whatever random sampling finds (``random`` never finds a violation
in a scenario ``dpor`` explored completely and called clean).

    python -m bench.model_mutants                 # every mutant of every version
    python -m bench.model_mutants --version upstream --limit 40 --samples 2000

``tests/test_model_mutants.py`` runs a fixed sample in CI.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import sys
import textwrap
import time
from dataclasses import dataclass

from checker import ModelError, explore
from model.scenarios import Scenario, TaskSpec, _client, build_program
from model.versions import VERSIONS

LOCK_PAIRS = {"zspage_read_lock": "zspage_read_unlock", "zpdesc_lock": "zpdesc_unlock",
              "migrate_read_lock": "migrate_read_unlock", "migrate_write_lock": "migrate_write_unlock",
              "local_lock": "local_unlock", "zspage_write_trylock": "zspage_write_unlock"}
UNLOCKS = set(LOCK_PAIRS.values())

# Small scenarios.  One CPU: dfs finishes (hundreds to a few thousand executions).
ONE_CPU = (
    ("read-compact", Scenario("m-read-compact", "a reader against compaction", 1, 1,
                              (_client(ops=("read",)), TaskSpec("compaction", "compaction", 1)))),
    ("free-migrate", Scenario("m-free-migrate", "a client frees the last object of a zspage; "
                              "migration of its first page", 1, 1,
                              (_client(ops=("free",)), TaskSpec("migration", "migration", 1,
                                                                targets=("zs2.p0",))),
                              pool=(("x.b", None), (None, "c0.a")), free_work_pending=False)),
    ("malloc-free", Scenario("m-malloc-free", "an allocation into a full pool against a free", 1, 1,
                             (_client(ops=("malloc",)), _client("client1", 1, owns=("c1.b",), ops=("free",))),
                             pool=(("c1.b", "c0.a"),), free_work_pending=False)),
)
# Two CPUs: too large for dfs; sampled.
TWO_CPUS = tuple((name, s) for name, s in ONE_CPU) + (
    ("worker-migrate", Scenario("m-worker-migrate", "the free worker against migration of the "
                                "empty zspage's first page", 1, 2,
                                (TaskSpec("worker", "worker", 0),
                                 TaskSpec("migration", "migration", 1, targets=("zs3.p0",))))),
)


@dataclass(frozen=True)
class Mutant:
    """One derived variant: ``cls`` subclasses ``version`` and overrides ``function``."""

    name: str
    version: str
    function: str
    operator: str
    cls: type


def _is_lock_stmt(stmt, kinds) -> str | None:
    """The receiver text of a ``yield X.acquire()`` (kinds: acquire/release), or the
    function name of a ``yield from self.F(...)`` lock helper; else None."""
    if not isinstance(stmt, ast.Expr):
        return None
    v = stmt.value
    if isinstance(v, ast.Yield) and isinstance(v.value, ast.Call) and isinstance(v.value.func, ast.Attribute):
        if v.value.func.attr in kinds:
            return ast.unparse(v.value.func.value)
    if isinstance(v, ast.YieldFrom) and isinstance(v.value, ast.Call) and isinstance(v.value.func, ast.Attribute):
        f = v.value.func
        if isinstance(f.value, ast.Name) and f.value.id == "self":
            if ("acquire" in kinds and f.attr in LOCK_PAIRS) or ("release" in kinds and f.attr in UNLOCKS):
                return "self." + f.attr
    return None


def _bodies(tree):
    """Every statement list of the function (its body and nested blocks)."""
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(node, field, None)
            if isinstance(stmts, list) and stmts and isinstance(stmts[0], ast.stmt):
                yield stmts


def _ends_path(body) -> bool:
    return bool(body) and isinstance(body[-1], (ast.Raise, ast.Return, ast.Break, ast.Continue))


def _sites(tree):
    """``(operator, description, transform)`` for every mutation site of a function AST."""
    out = []
    for bi, stmts in enumerate(_bodies(tree)):
        for i, st in enumerate(stmts):
            acq = _is_lock_stmt(st, ("acquire", "try_acquire"))
            if acq is not None:
                want = LOCK_PAIRS.get(acq[5:], None) if acq.startswith("self.") else None
                for j in range(i + 1, len(stmts)):
                    rel = _is_lock_stmt(stmts[j], ("release",))
                    if rel is not None and (rel == acq or (want is not None and rel == "self." + want)):
                        out.append(("drop-lock", f"line {st.lineno}+{stmts[j].lineno}",
                                    _drop(bi, i, j)))
                        break
            if (acq or _is_lock_stmt(st, ("release",))) and i + 1 < len(stmts) \
                    and isinstance(stmts[i + 1], (ast.Expr, ast.Assign, ast.AugAssign)):
                out.append(("move", f"line {st.lineno}", _swap(bi, i)))
            if isinstance(st, ast.If) and _ends_path(st.body):
                out.append(("skip-check", f"line {st.lineno}", _skip(bi, i)))
    return out


def _nth_body(tree, bi):
    return list(_bodies(tree))[bi]


def _drop(bi, i, j):
    def t(tree):
        stmts = _nth_body(tree, bi)
        del stmts[j]
        del stmts[i]
        if not any(isinstance(s, (ast.Expr, ast.Assign)) for s in stmts) and not stmts:
            stmts.append(ast.Pass())
    return t


def _swap(bi, i):
    def t(tree):
        stmts = _nth_body(tree, bi)
        stmts[i], stmts[i + 1] = stmts[i + 1], stmts[i]
    return t


def _skip(bi, i):
    def t(tree):
        _nth_body(tree, bi)[i].test = ast.Constant(False)
    return t


def mutants(version_name: str) -> list:
    """Every mutant of a built-in version (deterministic order)."""
    version = VERSIONS[version_name]
    out = []
    seen = set()
    for klass in version.__mro__:
        for fname, fn in sorted(vars(klass).items()):
            if fname in seen or not inspect.isgeneratorfunction(fn):
                continue
            if inspect.getattr_static(version, fname) is not fn:
                continue            # overridden lower in the MRO: mutate that one
            seen.add(fname)
            src = textwrap.dedent(inspect.getsource(fn))
            module = inspect.getmodule(fn)
            for k, (op, where, transform) in enumerate(_sites(ast.parse(src))):
                tree = ast.parse(src)
                transform(tree)
                ast.fix_missing_locations(tree)
                ns = {}
                try:
                    exec(compile(tree, f"<mutant {fname} {op} {where}>", "exec"), vars(module), ns)
                except SyntaxError:
                    continue
                name = f"{version_name}:{fname}:{op}:{where}"
                cls = type(f"Mutant_{fname}_{k}", (version,), {fname: ns[fname]})
                out.append(Mutant(name, version_name, fname, op, cls))
    return out


# -- the differential ----------------------------------------------------------------------
def _props(r) -> set:
    return {v.property for v in r.violations}


def _run(cls, scen, cpus, scheduler, **kw):
    try:
        return explore(lambda: build_program(cls, scen, 1, cpus), scheduler=scheduler,
                       stop_on_violation=False, **kw), None
    except ModelError as exc:
        return None, f"model error: {str(exc)[:80]}"


def check_mutant(m: Mutant, dfs_budget=20000, samples=1000, seed=0, two_cpus=True) -> list:
    """Mismatches (strings) between dpor and the oracles on ``m``; empty when they agree."""
    bad = []
    for name, scen in ONE_CPU:
        dfs, derr = _run(m.cls, scen, 1, "dfs", max_executions=dfs_budget)
        dpor, perr = _run(m.cls, scen, 1, "dpor")
        if derr or perr:
            if bool(derr) != bool(perr):
                bad.append(f"{name}/1: dfs {derr or 'ran'}, dpor {perr or 'ran'}")
            continue
        if not dfs.complete:
            continue
        if _props(dfs) != _props(dpor):
            bad.append(f"{name}/1: dfs {sorted(_props(dfs))}, dpor {sorted(_props(dpor))}")
    if two_cpus:
        for name, scen in TWO_CPUS:
            dpor, perr = _run(m.cls, scen, 2, "dpor", max_executions=200000)
            rnd, rerr = _run(m.cls, scen, 2, "random", max_executions=samples, seed=seed)
            if perr or rerr:
                if bool(perr) != bool(rerr):
                    bad.append(f"{name}/2: dpor {perr or 'ran'}, random {rerr or 'ran'}")
                continue
            if dpor.complete and not _props(rnd) <= _props(dpor):
                bad.append(f"{name}/2: random found {sorted(_props(rnd) - _props(dpor))}, "
                           f"which dpor (complete) did not")
    return bad


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--version", choices=sorted(VERSIONS), action="append")
    ap.add_argument("--limit", type=int, default=None, help="mutants per version (every k-th)")
    ap.add_argument("--samples", type=int, default=1000, help="random executions per 2-CPU scenario")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    total = bad = 0
    start = time.time()
    for v in args.version or sorted(VERSIONS):
        ms = mutants(v)
        if args.limit and len(ms) > args.limit:
            step = len(ms) / args.limit
            ms = [ms[int(i * step)] for i in range(args.limit)]
        for m in ms:
            total += 1
            problems = check_mutant(m, samples=args.samples, seed=args.seed)
            if problems:
                bad += 1
                print("MISMATCH", m.name, "; ".join(problems), flush=True)
            else:
                print("ok", m.name, flush=True)
    print(f"{total} mutants, {bad} mismatch(es), {time.time() - start:.0f}s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
