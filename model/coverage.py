"""Which kernel functions a check ran, and whether a patch's code ran at all.

Every kernel function of a version (its generator methods, named as in
mm/zsmalloc.c) is marked with :func:`checker.traced` when the version is
built into a program, so each explored execution records which of them
started (``fn:NAME`` in ``Result.coverage``) and which operation families ran
at the same time in two tasks (``pair:F+G``).  The families are the
allocator's operations as its users call them (:data:`FAMILIES`).

A check of a patch whose changed function never ran in any explored
execution proved nothing about the change: :func:`never_ran` names those
functions, and the CLI refuses to call such a result a pass.
"""

from __future__ import annotations

import inspect
import os

from checker import traced

from . import line_coverage

# The operations whose concurrent runs the default scenarios must cover, by the
# kernel function (or role helper) that is the operation.
FAMILIES = {
    "zs_malloc": "malloc",
    "zs_free": "free",
    "zs_compact": "compaction",
    "async_free_zspage": "worker",
}
ROLE_FAMILIES = ("access", "migration")      # role helpers: a read or write section, a page migration
ALL_FAMILIES = ("access", "malloc", "free", "compaction", "migration", "worker")

_CACHE: dict = {}


def kernel_functions(version: type) -> list:
    """The names of ``version``'s kernel functions (its generator methods), sorted."""
    names = set()
    for klass in version.__mro__:
        for attr, fn in vars(klass).items():
            if inspect.isgeneratorfunction(fn) or getattr(fn, "__zsmc_traced__", None):
                names.add(attr)
    return sorted(names)


def instrumented(variant: type) -> type:
    """A subclass of ``variant`` whose kernel functions record that they ran, and
    whose functions changed against its built-in version record each changed
    statement as it runs (:mod:`model.line_coverage`; cached).

    Its ``__zsmc_lines__`` maps each changed function to the line numbers of
    its changed statements, or to why they are not recorded."""
    cls = _CACHE.get(variant)
    if cls is None:
        from model.registry import base_version
        base = base_version(variant)
        changed = set(overridden(variant, base, plain=True))
        lines, decisions, boundaries = {}, {}, {}
        ns = {"__module__": variant.__module__, "__qualname__": variant.__qualname__,
              "__zsmc_base__": variant, "__zsmc_lines__": lines, "__zsmc_decisions__": decisions,
              "__zsmc_boundaries__": boundaries}
        for name in sorted(set(kernel_functions(variant)) | changed):
            fn = inspect.getattr_static(variant, name)
            if not inspect.isfunction(fn):
                continue
            if name in changed:
                base_fn = inspect.getattr_static(base, name, None)
                fn, lines[name] = line_coverage.instrument(
                    fn, name, base_fn if inspect.isfunction(base_fn) else None)
                decisions[name] = getattr(fn, "__zsmc_decisions__", [])
                boundaries[name] = getattr(fn, "__zsmc_boundaries__", [])
            ns[name] = traced(fn, name, FAMILIES.get(name)) if inspect.isgeneratorfunction(fn) else fn
        cls = _CACHE[variant] = type(variant.__name__, (variant,), ns)
    return cls


def every_line(version: type) -> type:
    """A subclass of ``version`` whose every function (kernel and plain, as the
    version resolves them) records each of its statements as it runs: what the
    default scenarios leave unrun of the model itself
    (``tests/model/test_model_coverage.py``). Its ``__zsmc_every_line__`` maps
    each function to its statements' lines (cached)."""
    key = ("every line", version)
    cls = _CACHE.get(key)
    if cls is None:
        lines = {}
        ns = {"__module__": version.__module__, "__qualname__": version.__qualname__,
              "__zsmc_every_line__": lines}
        for klass in version.__mro__:
            for name, fn in vars(klass).items():
                if name in ns or name in lines or not inspect.isfunction(fn) \
                        or inspect.getattr_static(version, name) is not fn:
                    continue
                new, found = line_coverage.instrument(fn, name, None)
                if isinstance(found, list) and found:
                    ns[name], lines[name] = new, found
        cls = _CACHE[key] = type(version.__name__, (version,), ns)
    return cls


def overridden(variant: type, base: type, plain: bool = False) -> list:
    """The kernel functions (and new generator helpers) ``variant`` defines itself,
    between it and the built-in version ``base``; with ``plain``, its plain
    functions as well (``get_fullness_group``, ``zspage_lock_init``: no step of
    their own, but a patch may change them)."""
    names = set()
    for klass in variant.__mro__:
        if klass is base or issubclass(base, klass):
            break
        for attr, fn in vars(klass).items():
            wanted = inspect.isgeneratorfunction(fn) or (plain and inspect.isfunction(fn))
            if wanted and not _same_function(fn, getattr(base, attr, None)):
                names.add(attr)
    return sorted(names)


def _same_function(fn, other) -> bool:
    """``fn`` does what ``other`` does: the same code (ignoring where it was written)
    and every global name it uses bound to the same object (``zsmc variant new``
    copies the base's code; until it is edited it changes nothing)."""
    if not inspect.isfunction(other) or fn.__defaults__ != other.__defaults__ \
            or fn.__kwdefaults__ != other.__kwdefaults__ or fn.__closure__ or other.__closure__:
        return False
    if not _same_code(fn.__code__, other.__code__):
        return False
    missing = object()
    return all(fn.__globals__.get(n, missing) is other.__globals__.get(n, missing)
               for n in names_used(fn.__code__))


def _same_code(a, b) -> bool:
    if (a.co_code, a.co_names, a.co_varnames, a.co_freevars, a.co_cellvars, a.co_flags,
            a.co_argcount, a.co_kwonlyargcount) != (b.co_code, b.co_names, b.co_varnames, b.co_freevars,
                                                  b.co_cellvars, b.co_flags, b.co_argcount,
                                                  b.co_kwonlyargcount):
        return False
    if len(a.co_consts) != len(b.co_consts):
        return False
    for x, y in zip(a.co_consts, b.co_consts):
        if inspect.iscode(x) and inspect.iscode(y):
            if not _same_code(x, y):
                return False
        elif type(x) is not type(y) or x != y:
            return False
    return True


def names_used(code) -> set:
    """The global and attribute names ``code`` uses, its nested code's (closures,
    comprehensions) included."""
    names = set(code.co_names)
    for c in code.co_consts:
        if inspect.iscode(c):
            names |= names_used(c)
    return names


def ran(coverage: dict) -> set:
    """The kernel functions that ran, from a ``Result.coverage``."""
    return {k[3:] for k in coverage if k.startswith("fn:")}


def pairs(coverage: dict) -> set:
    """The operation families that ran together, as sorted tuples."""
    return {tuple(k[5:].split("+")) for k in coverage if k.startswith("pair:")}


def same_pairs(coverage: dict) -> set:
    """The operation families that worked on one zspage (or its class's 0% list) while
    both ran (:func:`checker.coverage.op_object`), as sorted tuples."""
    return {tuple(k[5:].split("+")) for k in coverage if k.startswith("same:")}


def never_ran(variant: type, base: type, coverage: dict) -> list:
    """The functions ``variant`` changes that no explored execution ran."""
    done = ran(coverage)
    return [n for n in overridden(variant, base) if n not in done]


def lines_never_ran(variant: type, coverage: dict) -> list:
    """``[(function, [(line, source)])]``: the statements ``variant`` changes that
    no explored execution ran (a changed branch never taken;
    :mod:`model.line_coverage`), in the kernel functions that did run (those
    that did not are :func:`never_ran`'s) and in its plain functions; and its
    changed conditions that always went one way (``line`` is then the string
    ``"LINE:0"`` or ``"LINE:1"``, the way never taken, as its coverage key), and
    its new comparisons that never ran with equal sides (``"LINE:bK"``)."""
    done = ran(coverage)
    out = []
    cls = instrumented(variant)
    for name, lines in sorted(cls.__zsmc_lines__.items()):
        fn = inspect.getattr_static(variant, name)
        if isinstance(lines, str) or (inspect.isgeneratorfunction(fn) and name not in done):
            continue
        ran_here = line_coverage.ran_lines(coverage, name)
        missing = sorted(set(lines) - ran_here)
        where = os.path.basename(fn.__code__.co_filename)
        report = [(n, f"{where}:{n}: {line_coverage.source_line(fn, n)}") for n in missing]
        # A changed condition that ran but always went one way: the branch the
        # change opens (or closes) never ran.  Its entry names the branch's key.
        for d, went in line_coverage.one_sided(coverage, name, cls.__zsmc_decisions__.get(name, ())):
            never = "false" if went else "true"
            if isinstance(d, int):
                report.append((f"{d}:{int(not went)}",
                               (f"{where}:{d}: {line_coverage.source_line(fn, d)} (its condition was "
                                f"never {never})")))
            else:
                n, k, text = d
                report.append((f"{n}:c{k}:{int(not went)}",
                               (f"{where}:{n}: {line_coverage.source_line(fn, n)} (its operand "
                                f"`{text}` was never {never})")))
        # A new comparison never run with equal sides: ``<`` and ``<=`` were not told apart.
        for n, k, text in line_coverage.missed_boundaries(coverage, name,
                                                          cls.__zsmc_boundaries__.get(name, ())):
            report.append((f"{n}:b{k}",
                           (f"{where}:{n}: {line_coverage.source_line(fn, n)} (its comparison "
                            f"`{text}` never ran with both sides equal, where `<` and `<=` differ)")))
        if report:
            report.sort(key=lambda e: (int(str(e[0]).split(":")[0]), str(e[0])))
            out.append((name, report))
    return out


# What where_it_runs may explore in all: a hint, not a check, so it stays brief
# even when the code runs nowhere (a line only a closed generator would run
# searched every scenario at two depths: minutes, at the end of a one-second check).
WHERE_BUDGET = 2_000
WHERE_PER_BUILD = 300


def where_it_runs(version: type, fn: str, depth: int, registry, lines=(),
                  budget: int = WHERE_BUDGET) -> tuple | None:
    """``(scenario, depth)``: a default scenario in which ``version`` runs ``fn``
    (or, given ``lines``, one of those lines of it), at ``depth`` or the next
    depth, or a review scenario that runs it at depth 1 (explored briefly, only
    to say where to look: at most ``budget`` executions in all, None when they
    found it nowhere)."""
    from checker import explore
    keys = {line_coverage.key(fn, n) for n in lines}
    for d in sorted({1, depth, depth + 1}):
        for name, scen in registry.SCENARIOS.items():
            if not (scen.default or (d == 1 and getattr(scen, "review", False))):
                continue
            for cpus in scen.counts:
                if budget <= 0:
                    return None
                build, _ = registry.make_build(version, name, d, cpus)
                r = explore(build, properties=[], max_executions=min(WHERE_PER_BUILD, budget))
                budget -= max(r.executions, 1)
                if keys & r.coverage.keys() if keys else fn in ran(r.coverage):
                    return name, d
    return None
