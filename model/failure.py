"""Allocation failure: which allocations a scenario may make fail, for which variant.

The kernel's allocations fail under memory pressure, exactly when zram allocates:
``zs_malloc`` returns ``-ENOMEM`` when its handle (``cache_alloc_handle``) or its
zspage (``alloc_zspage``: the struct, ``cache_alloc_zspage``, or a page,
``alloc_zpdesc``) cannot be had, freeing what it had already taken (zsmalloc-protocol.md
§2.1 step 6); the migration core puts the page back when it gets no new page
(``get_new_folio``, §2.5).  A scenario lets some of these fail
(``Scenario.alloc_failure``, names of :data:`SITES`); the allocation then asks
:meth:`model.alloc.Allocation.should_fail`, a choice the search explores both ways.

A failure is injected only into code that has a path for it.  Until failures were
modelled no allocation failed, so a variant written then calls ``alloc_zspage`` and
uses the result with no test: made to fail, it would crash on a NULL the patch never
had to handle, a false alarm about the model, not the patch.  So a site is enabled for
a variant only if every call, in every function of the variant as it resolves them,
of each function the failure reaches (:data:`SITES`: the allocation itself, and for a
zspage ``alloc_zspage`` that passes it on) assigns the result to a name that an
``if``, ``while`` or conditional expression of that function then tests (``x is
None``, ``not x``, ``x`` ...).  The built-in versions test every one.  A patch that
drops a test loses the failure there (:func:`untested_calls` names the call, and the
check says so in a note).  Static and per class, decided when a program is built: the
search itself is unchanged, and a scenario without failures takes no extra step.
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap

# site -> the functions the failure reaches, each of whose callers must test its result
SITES = {
    "handle": ("cache_alloc_handle",),
    "zspage": ("cache_alloc_zspage", "alloc_zspage"),
    "zpdesc": ("alloc_zpdesc", "alloc_zspage"),
    "newpage": ("get_new_folio",),
}
# What each site stands for, in the kernel's words (docs and notes).
WHAT = {
    "handle": "the handle's kmem_cache (cache_alloc_handle)",
    "zspage": "the struct zspage's kmem_cache (cache_alloc_zspage)",
    "zpdesc": "a page of the zspage (alloc_zpdesc)",
    "newpage": "the migration core's new page (get_new_folio)",
}


def enabled_sites(variant: type, wanted) -> frozenset:
    """The sites of ``wanted`` at which ``variant``'s code tests every result the failure
    reaches."""
    return frozenset(s for s in wanted if not untested_calls(variant, s))


def untested_calls(variant: type, site: str) -> list:
    """``[(function, callee)]``: the calls, in ``variant``'s functions, of a function
    the failure at ``site`` reaches whose result the caller does not test."""
    callees = SITES[site]
    out = []
    for name, fn in _functions(variant):
        for callee in _untested(fn, callees):
            out.append((name, callee))
    return out


def _functions(variant: type):
    seen = set()
    for klass in variant.__mro__:
        for name, fn in vars(klass).items():
            if name in seen or not inspect.isfunction(fn):
                continue
            seen.add(name)
            if inspect.getattr_static(variant, name) is fn:
                yield name, getattr(fn, "__wrapped__", fn)


@functools.cache
def _untested(fn, callees: tuple) -> tuple:
    """The callees of ``callees`` that ``fn`` calls (on ``self``) without testing the result.
    A function whose source cannot be read is taken to test nothing it calls, if it calls
    any of them (by name)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        names = set(fn.__code__.co_names)
        return tuple(c for c in callees if c in names)
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    tests = [n.test for n in ast.walk(tree) if isinstance(n, (ast.If, ast.While, ast.IfExp))]
    bound = {}      # name -> the lines where it is (re)bound
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            bound.setdefault(n.id, []).append(n.lineno)
    bad = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in callees and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "self"):
            continue
        up = parents.get(node)
        if isinstance(up, (ast.YieldFrom, ast.Await)):
            up = parents.get(up)
        target = None
        if isinstance(up, (ast.Assign, ast.AnnAssign)) and up.value is not None:
            targets = up.targets if isinstance(up, ast.Assign) else [up.target]
            if len(targets) == 1 and isinstance(targets[0], ast.Name):
                target = targets[0].id
        if target is None:
            bad.append(node.func.attr)
            continue
        # a test of the name after this assignment and before it is bound again
        start = up.end_lineno
        end = min((ln for ln in bound.get(target, ()) if ln > start), default=float("inf"))
        if not any(start < t.lineno <= end and _tests(t, target) for t in tests):
            bad.append(node.func.attr)
    return tuple(dict.fromkeys(bad))


def _tests(test, name: str) -> bool:
    """``test`` decides on the value of ``name`` itself: ``name``, ``not name``,
    ``name is None`` (any comparison with ``name`` on one side), ``isinstance(name, ...)``,
    ``IS_ERR_VALUE(name)``, or one of these in an ``and``/``or``.  Not a call that takes
    it (``trylock(name)`` uses the value, it does not test it)."""
    if isinstance(test, ast.Name):
        return test.id == name
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _tests(test.operand, name)
    if isinstance(test, ast.BoolOp):
        return any(_tests(v, name) for v in test.values)
    if isinstance(test, ast.Compare):
        return any(isinstance(x, ast.Name) and x.id == name for x in [test.left, *test.comparators])
    if isinstance(test, ast.Call) and isinstance(test.func, ast.Name) and test.func.id in _PREDICATES \
            and test.args and isinstance(test.args[0], ast.Name):
        return test.args[0].id == name
    return False


_PREDICATES = ("isinstance", "IS_ERR_VALUE", "IS_ERR", "bool")


def failure_note(variant: type, scenarios) -> str | None:
    """One line for a check whose ``scenarios`` (Scenario objects) let allocations fail
    that ``variant`` cannot take: the sites left out and the untested calls why."""
    wanted = dict.fromkeys(s for scen in scenarios for s in getattr(scen, "alloc_failure", ()))
    missing = []
    for site in wanted:
        calls = untested_calls(variant, site)
        if calls:
            fn, callee = calls[0]
            missing.append(f"{site} ({fn} does not test what {callee} returns)")
    if not missing:
        return None
    return ("note: allocation failure not injected at " + "; ".join(missing) +
            ": code without a failure path gets none (written before the model's allocations "
            "could fail?); add the kernel's test to have that path checked")
