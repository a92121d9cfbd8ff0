"""Which lines of a patch ran: the statements a variant changes, recorded as they run.

A function-level check ("the changed function ran") passes a patch vacuously
when the change is a branch the scenarios never take: the function ran, its
changed error path did not. So a variant's changed statements are found by
comparing its function's source with the built-in version's (``difflib``, line
by line, after dedenting), and the function is recompiled with a call that
records ``ln:NAME:LINE`` (:func:`checker.coverage.covered`) before each changed
statement. The call yields nothing, so the steps, the counts and every
interleaving stay as they were; a line keeps its number in tracebacks and
traces. A changed ``if`` or ``while`` also records which way its condition
went (the test is wrapped in a call that records and returns it, evaluated
once as before): a changed condition that ran but always went the same way
never ran the behaviour the patch changes, and a check on it is vacuous too.
So is a new ordering comparison (``a < b``, ``<=``, ``>``, ``>=``, anywhere in
a changed statement: a condition, an operand of one, an expression; not one the
built-in function has) that ran and never with both sides equal: there ``<``
and ``<=`` differ, and a patch that moves a boundary by one (``inuse < 1`` for
``inuse <= 1``) changes nothing anywhere else.  Comparisons of values other than numbers are not asked to.
A deleted statement is marked at the statement that now follows it
(running it means the deletion point was passed). A ``raise`` is not asked
to run: it is a BUG_ON or an error the model reports, which a passing check
never reaches; nor is the condition of an ``if`` that only raises asked to go
both ways.

A function whose source cannot be read (written in a REPL), or whose code
cannot be rebuilt (a decorator, an empty closure cell), is left as it was:
its coverage stays at the function level, and :func:`instrument` says why.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import operator
import textwrap

from checker.coverage import covered

PREFIX = "ln:"


def key(name: str, line: int) -> str:
    return f"{PREFIX}{name}:{line}"


def _source(fn):
    """``(dedented lines, first line number)`` of ``fn``, or None."""
    try:
        lines, start = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        return None
    text = textwrap.dedent("".join(lines))
    return text.splitlines(), start


def _function_node(lines):
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return None
    node = tree.body[0] if tree.body else None
    return node if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else None


def _blocks(stmt):
    """``(holder, field)`` for each list of statements ``stmt`` holds directly:
    its body, else and finally blocks, its handlers' and its cases' bodies."""
    for field in ("body", "orelse", "finalbody"):
        if getattr(stmt, field, None):
            yield stmt, field
    for holder in (getattr(stmt, "handlers", None) or []) + (getattr(stmt, "cases", None) or []):
        if not _on_close_only(holder):
            yield holder, "body"


def _on_close_only(handler) -> bool:
    """An ``except GeneratorExit:`` block: it runs only when zsmc closes a task of an
    execution it abandoned, which is part of no execution (cli.app notes a yield
    there), so it can never be asked to run."""
    t = getattr(handler, "type", None)
    return isinstance(t, ast.Name) and t.id == "GeneratorExit"


_TERMINATORS = (ast.Return, ast.Raise, ast.Break, ast.Continue)


def _statements(fn_node) -> list:
    """Every statement of the function's body that can run, nested blocks
    included, in source order: not a docstring or other bare constant, not the
    dead branch of ``if False:`` (``if False: yield`` makes a generator), not an
    ``except GeneratorExit:`` block (:func:`_on_close_only`), not a statement after a ``return``, ``raise``, ``break`` or ``continue`` of its
    block (``return`` then ``yield`` is the other way to make one)."""
    out = []

    def visit(body):
        for stmt in body:
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue
            out.append(stmt)
            if isinstance(stmt, _TERMINATORS):
                return
            dead = None
            if isinstance(stmt, ast.If) and isinstance(stmt.test, ast.Constant):
                dead = "orelse" if stmt.test.value else "body"
            for holder, field in _blocks(stmt):
                if not (holder is stmt and field == dead):
                    visit(getattr(holder, field))
    visit(fn_node.body)
    return out


def _own_lines(stmt) -> range:
    """The lines that are the statement itself (a compound one: its header)."""
    firsts = [getattr(holder, field)[0].lineno for holder, field in _blocks(stmt)]
    if firsts:
        return range(stmt.lineno, min(firsts))
    return range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1)


def _code_lines(lines, node) -> list:
    """``[(line number, text)]`` of the function's code: no blank or comment-only
    line, no docstring (rewording either changes nothing that runs)."""
    skip = set()
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        skip.update(range(body[0].lineno, body[0].end_lineno + 1))
    out = []
    for n, text in enumerate(lines, 1):
        bare = text.strip()
        if bare and not bare.startswith("#") and n not in skip:
            out.append((n, text.rstrip()))     # indented as it is: a moved block changed
    return out


def changed_statements(fn, base_fn):
    """``(function node, [statements changed], first line)`` of ``fn`` against
    ``base_fn`` (None: a new function, every statement changed), in the
    dedented source's line numbers; None when ``fn``'s source cannot be read."""
    src = _source(fn)
    if src is None:
        return None
    lines, start = src
    node = _function_node(lines)
    if node is None:
        return None
    # A raise is a BUG_ON or an error the model reports: on a passing check it
    # never runs, so it is not asked to.
    stmts = [s for s in _statements(node) if not isinstance(s, ast.Raise)]
    base = _source(base_fn) if base_fn is not None else None
    base_node = _function_node(base[0]) if base is not None else None
    if base_node is None:
        return node, stmts, start
    mine, theirs = _code_lines(lines, node), _code_lines(base[0], base_node)
    changed, marks = set(), []
    matcher = difflib.SequenceMatcher(None, [t for _, t in theirs], [t for _, t in mine],
                                      autojunk=False)
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "insert"):
            changed.update(n for n, _ in mine[j1:j2])
        elif tag == "delete":           # the line now where the deleted ones were
            marks.append(mine[j1][0] if j1 < len(mine) else len(lines) + 1)
    picked = [s for s in stmts if any(n in changed for n in _own_lines(s))]
    for line in marks:
        after = [s for s in stmts if s.lineno >= line]
        mark = after[0] if after else (stmts[-1] if stmts else None)
        if mark is not None and mark not in picked:
            picked.append(mark)
    return node, sorted(picked, key=lambda s: (s.lineno, s.col_offset)), start


def instrument(fn, name: str, base_fn):
    """``(function, lines)``: ``fn`` recompiled to record each changed statement
    as it runs, and those statements' line numbers in its file; or ``(fn,
    reason)`` when it is left as it was (``reason`` a string)."""
    found = changed_statements(fn, base_fn)
    if found is None:
        return fn, "its source cannot be read"
    node, stmts, start = found
    if not stmts:
        return fn, []
    if node.decorator_list:
        return fn, "it is decorated"
    cells = fn.__closure__ or ()
    try:
        values = [c.cell_contents for c in cells]
    except ValueError:
        return fn, "a variable it closes over is unset"
    lines = sorted({s.lineno + start - 1 for s in stmts})
    chosen = {id(s) for s in stmts}
    recorder = "__zsmc_line__"
    brancher = "__zsmc_branch__"
    comparer = "__zsmc_compare__"
    decisions, boundaries = [], []
    known = _comparisons(base_fn)

    def insert(body):
        out = []
        for stmt in body:
            for holder, field in list(_blocks(stmt)):
                setattr(holder, field, insert(getattr(holder, field)))
            if id(stmt) in chosen:
                line = stmt.lineno + start - 1
                call = ast.Expr(ast.Call(ast.Name(recorder, ast.Load()),
                                         [ast.Constant(key(name, line))], []))
                out.append(ast.copy_location(call, stmt))
                if isinstance(stmt, (ast.If, ast.While)) and not isinstance(stmt.test, ast.Constant) \
                        and not _is_assertion(stmt):
                    # A changed decision: which way it went, too (evaluated once, as before),
                    # and which way each operand of its and/or went where it was evaluated
                    # (``while work and n < 32``: the bound never reached is a branch of
                    # the change that never ran, though the decision went both ways).
                    decisions.append(line)
                    operands = []
                    stmt.test = _operands(stmt.test, operands, brancher, name, line)
                    decisions.extend((line, k, text) for k, text in enumerate(operands, 1))
                    stmt.test = ast.copy_location(ast.Call(
                        ast.Name(brancher, ast.Load()),
                        [ast.Constant(branch_key(name, line, True)),
                         ast.Constant(branch_key(name, line, False)), stmt.test], []), stmt.test)
                # Its new comparisons (a condition's, an operand's, or any other of the
                # statement itself): whether each met its boundary.
                _Boundaries(comparer, known, boundaries, name, line).statement(stmt)
            out.append(stmt)
        return out

    node.body = insert(node.body)
    # Renamed while it is made: a def named like the method would bind that
    # name in the maker, and the method's own use of a global of that name
    # (get_fullness_group calls the module's get_fullness_group) would find
    # the method instead.
    node.name = "__zsmc_fn__"
    params = list(fn.__code__.co_freevars) + [recorder, brancher, comparer]
    ret = ast.copy_location(ast.Return(ast.Name(node.name, ast.Load())), node)
    maker = ast.copy_location(ast.FunctionDef(
        "__zsmc_make__",
        ast.arguments([], [ast.arg(p) for p in params], None, [], [], None, []),
        [node, ret], [], None), node)
    module = ast.Module([maker], [])
    ast.fix_missing_locations(module)          # first: the new nodes take their statement's line
    ast.increment_lineno(module, start - 1)
    scope: dict = {}
    try:
        exec(compile(module, fn.__code__.co_filename, "exec"), fn.__globals__, scope)
    except SyntaxError as exc:
        return fn, f"it cannot be recompiled ({exc.msg})"
    new = scope["__zsmc_make__"](*values, covered, _branch, _compare)
    # Named as before in tracebacks and the engine's messages ("Bad.zs_free").
    new.__code__ = _renamed(new.__code__, f"__zsmc_make__.<locals>.{node.name}",
                            fn.__code__.co_qualname).replace(co_name=fn.__code__.co_name)
    new.__name__ = fn.__name__
    new.__defaults__, new.__kwdefaults__ = fn.__defaults__, fn.__kwdefaults__
    new.__qualname__, new.__module__, new.__doc__ = fn.__qualname__, fn.__module__, fn.__doc__
    new.__dict__.update(fn.__dict__)
    new.__zsmc_decisions__ = sorted(set(decisions), key=lambda d: (d, 0, "") if isinstance(d, int) else d)
    new.__zsmc_boundaries__ = sorted(set(boundaries))
    return new, lines


def _is_assertion(stmt) -> bool:
    """``if COND: raise ...`` with no else: a BUG_ON (or an error the model reports).
    Its raise is not asked to run (:func:`changed_statements`), so neither is the way
    of its condition that reaches the raise: on a passing check the condition always
    goes the other way, and that is no branch of the patch left unexplored (red team
    round 5: a patch adding ``dec_zspage_isolation``'s ``VM_BUG_ON(isolated == 0)``
    was NOT A PASS because the BUG_ON never fired)."""
    return (isinstance(stmt, ast.If) and not stmt.orelse and bool(stmt.body)
            and all(isinstance(s, ast.Raise) for s in stmt.body))


def _operands(test, out: list, brancher: str, name: str, line: int):
    """``test`` with each operand of its ``and``/``or`` (nested ones too) wrapped in a
    call recording which way it went; ``out`` gets each operand's source, in order."""
    if not isinstance(test, ast.BoolOp):
        return test
    values = []
    for v in test.values:
        if isinstance(v, ast.BoolOp):
            values.append(_operands(v, out, brancher, name, line))
            continue
        out.append(ast.unparse(v))
        k = len(out)
        values.append(ast.copy_location(ast.Call(
            ast.Name(brancher, ast.Load()),
            [ast.Constant(operand_key(name, line, k, True)),
             ast.Constant(operand_key(name, line, k, False)), v], []), v))
    test.values = values
    return test


_ORDERS = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge"}


def _comparisons(fn) -> set:
    """The source of every comparison in ``fn`` (None: a new function, none)."""
    src = _source(fn) if fn is not None else None
    node = _function_node(src[0]) if src is not None else None
    if node is None:
        return set()
    return {ast.unparse(n) for n in ast.walk(node) if isinstance(n, ast.Compare)}


_BLOCKS = {"body", "orelse", "finalbody", "handlers", "cases"}


class _Boundaries(ast.NodeTransformer):
    """Wraps each ordering comparison of one changed statement that the built-in
    function does not have (its source is not among ``known``) in a call that
    evaluates it as before (each side once, in order) and records whether it ran on
    numbers and whether its sides were equal; ``found`` gets ``(line, k, source)``."""

    def __init__(self, comparer, known, found, name, line):
        self.comparer, self.known, self.found = comparer, known, found
        self.name, self.line, self.k = name, line, 0

    def statement(self, stmt) -> None:
        """The statement's own expressions (a compound one's header, not its blocks)."""
        for field, value in ast.iter_fields(stmt):
            if field in _BLOCKS:
                continue
            if isinstance(value, ast.AST):
                setattr(stmt, field, self.visit(value))
            elif isinstance(value, list):
                setattr(stmt, field, [self.visit(v) if isinstance(v, ast.AST) else v for v in value])

    def visit_Lambda(self, node):       # its body runs elsewhere, or never
        return node

    def visit_Compare(self, node):
        self.generic_visit(node)
        if len(node.ops) != 1 or type(node.ops[0]) not in _ORDERS:
            return node
        text = ast.unparse(node)
        if text in self.known:
            return node
        k, self.k = self.k, self.k + 1
        self.found.append((self.line, k, text))
        return ast.copy_location(ast.Call(
            ast.Name(self.comparer, ast.Load()),
            [ast.Constant(boundary_key(self.name, self.line, k)),
             ast.Constant(_ORDERS[type(node.ops[0])]), node.left, node.comparators[0]], []), node)


def _renamed(code, old: str, new: str):
    consts = tuple(_renamed(c, old, new) if isinstance(c, type(code)) else c
                   for c in code.co_consts)
    return code.replace(co_qualname=code.co_qualname.replace(old, new, 1), co_consts=consts)


def ran_lines(coverage: dict, name: str) -> set:
    """The changed lines of kernel function ``name`` that ran, from a ``Result.coverage``."""
    head = key(name, 0)[:-1]
    return {int(k[len(head):]) for k in coverage if k.startswith(head) and k[len(head):].isdigit()}


def branch_key(name: str, line: int, taken: bool) -> str:
    """The coverage key of a changed decision at ``line`` going ``taken``."""
    return f"{key(name, line)}:{int(taken)}"


def operand_key(name: str, line: int, k: int, taken: bool) -> str:
    """The coverage key of operand ``k`` (from 1) of the changed decision at ``line``."""
    return f"{key(name, line)}:c{k}:{int(taken)}"


def boundary_key(name: str, line: int, k: int) -> str:
    """The coverage key of new comparison ``k`` (from 0, in the order they are evaluated
    from the source) of the changed statement at ``line``, run with equal sides."""
    return f"{key(name, line)}:b{k}"


def _branch(if_true: str, if_false: str, value):
    covered(if_true if value else if_false)
    return value


_NUMBERS = (int, float)


def _compare(at: str, op: str, a, b):
    # Only plain numbers are judged (``==`` on a shared container would be an access).
    if type(a) in _NUMBERS and type(b) in _NUMBERS:
        covered(at + ":r")
        if a == b:
            covered(at)
    else:
        covered(at + ":n")          # not numbers: no boundary asked for
    return getattr(operator, op)(a, b)


def missed_boundaries(coverage: dict, name: str, boundaries) -> list:
    """The new comparisons of ``name`` (``(line, k, source)``) that ran, on numbers
    only, and never with equal sides."""
    out = []
    for line, k, text in boundaries:
        at = boundary_key(name, line, k)
        if at + ":r" in coverage and at not in coverage and at + ":n" not in coverage:
            out.append((line, k, text))
    return out


def one_sided(coverage: dict, name: str, decisions) -> list:
    """``[(decision, went)]``: the changed decisions of ``name`` that ran and always
    went one way (``went``) in every explored execution: the other way, the patch's
    change of behaviour, never ran.  A decision is its line, or ``(line, k, source)``
    for operand ``k`` of its ``and``/``or`` (judged where it was evaluated)."""
    out = []
    for d in decisions:
        if isinstance(d, int):
            t = branch_key(name, d, True) in coverage
            f = branch_key(name, d, False) in coverage
        else:
            line, k, _ = d
            t = operand_key(name, line, k, True) in coverage
            f = operand_key(name, line, k, False) in coverage
        if t != f:
            out.append((d, t))
    return out


def source_line(fn, line: int) -> str:
    """Line ``line`` of ``fn``'s file, stripped (for a report)."""
    try:
        lines, start = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        return ""
    i = line - start
    return lines[i].strip() if 0 <= i < len(lines) else ""
