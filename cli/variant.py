"""``zsmc variant new`` and ``zsmc variant diff``: write a patch as a variant, show it for review.

A variant is a subclass of a built-in protocol version whose methods are the
kernel functions a patch changes (docs/patch-review.md).  ``new`` writes a
ready file: the imports, the class, and the base version's current code of
each named kernel function, to be edited; unedited, it checks exactly like its
base.  ``diff`` prints a variant against its base, function by function, as a
unified diff a review thread can quote.

Kernel function names are the kernel's; a leading ``__`` is spelt ``_`` in the
model (Python would mangle it), and either spelling is accepted.
"""

from __future__ import annotations

import ast
import builtins
import difflib
import functools
import inspect
import keyword
import os
import re
import sys
import textwrap

import click

from checker.errors import UsageError


def _registry():
    from model import registry
    return registry


def _method_name(name: str) -> str:
    """``__zs_compact`` -> ``_zs_compact`` (the model's spelling)."""
    return "_" + name[2:] if name.startswith("__") and not name.endswith("__") else name


def model_functions(base: type) -> dict:
    """``{name: (defining class, function)}`` of every method the model defines for ``base``."""
    out = {}
    for klass in reversed(base.__mro__):
        if not klass.__module__.startswith("model."):
            continue
        for attr, fn in vars(klass).items():
            if inspect.isfunction(fn) and not (attr.startswith("__") and attr.endswith("__")):
                out[attr] = (klass, fn)
    return out


def _resolve_functions(base: type, names) -> list:
    """The model's spelling of each name, in order, without repeats; UsageError (with the
    closest names) for one the base does not define."""
    known = model_functions(base)
    out = []
    for name in names:
        attr = _method_name(name)
        if attr not in known:
            close = difflib.get_close_matches(attr, list(known), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else f"; see zsmc variant functions {base.NAME}"
            raise UsageError(f"{base.NAME} has no kernel function {name!r}{hint}")
        if attr not in out:
            out.append(attr)
    return out


def method_source(fn) -> str:
    """The method's source as written in its class (indented one level)."""
    src = textwrap.dedent(inspect.getsource(fn))
    return textwrap.indent(src, "    ")


def _free_names(src: str) -> set:
    """Names a function's source reads but does not bind (globals it needs)."""
    tree = ast.parse(textwrap.dedent(src))
    bound, used = set(), set()
    # A method's own name is no name in its body: ``get_fullness_group`` calling the
    # module's ``get_fullness_group`` needs it imported.
    own = tree.body[0] if tree.body and isinstance(tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef)) \
        else None
    for node in ast.walk(tree):
        if node is own:
            continue        # its arguments are ast.arg nodes, bound below
        if isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, (ast.Store, ast.Del)) else used).add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    return {n for n in used - bound if not hasattr(builtins, n)}


def _import_for(name: str, fn) -> tuple:
    """``(module, name)`` to import ``name`` from, as ``fn``'s module sees it: the public
    package (``checker``, ``model``) when it exports it, else the module that defines it."""
    value = fn.__globals__.get(name)
    if value is None:
        raise UsageError(f"cannot find {name!r}, which {fn.__qualname__} uses")
    for package in ("checker", "model"):
        mod = sys.modules.get(package)
        if mod is not None and getattr(mod, name, None) is value and name in getattr(mod, "__all__", ()):
            return package, name
    origin = getattr(value, "__module__", None)
    if isinstance(origin, str) and getattr(sys.modules.get(origin), name, None) is value:
        return origin, name
    for module in sorted(m for m in sys.modules if m.startswith(("model.", "checker."))):
        if getattr(sys.modules[module], name, None) is value and name in _assigned(module):
            return module, name          # a constant: the module that assigns it
    return fn.__module__, name


@functools.cache
def _assigned(module: str) -> frozenset:
    """Names a module assigns at its top level."""
    try:
        tree = ast.parse(inspect.getsource(sys.modules[module]))
    except (OSError, TypeError, SyntaxError):
        return frozenset()
    out = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else [])
        for t in targets:
            for n in ast.walk(t):
                if isinstance(n, ast.Name):
                    out.add(n.id)
    return frozenset(out)


def scaffold(base_name: str, functions, class_name: str, path: str = "FILE") -> str:
    """The text of variant file ``path``: imports, ``class class_name(Base)`` and the base's
    code of ``functions``."""
    reg = _registry()
    base = reg.VERSIONS.get(base_name)
    if base is None:
        raise UsageError(f"unknown base version {base_name!r}; versions: {', '.join(reg.VERSIONS)}")
    if not class_name.isidentifier() or keyword.iskeyword(class_name):
        raise UsageError(f"--class {class_name!r} is not a Python class name"
                         + (" (it is a keyword)" if keyword.iskeyword(class_name) else ""))
    attrs = _resolve_functions(base, functions)
    known = model_functions(base)
    imports = {}
    bodies = []
    for attr in attrs:
        klass, fn = known[attr]
        src = method_source(fn)
        for name in sorted(_free_names(src)):
            module, obj = _import_for(name, fn)
            imports.setdefault(module, set()).add(obj)
        where = os.path.relpath(inspect.getsourcefile(fn), os.path.dirname(os.path.dirname(
            inspect.getsourcefile(reg))))
        bodies.append(f"    # {base.NAME}'s {attr}, from {klass.__name__} ({where}); edit it, or delete it to\n"
                      f"    # keep the base's.\n{src}")
    imports.setdefault("model", set()).add(base.__name__)
    if any(class_name in names - {base.__name__} for names in imports.values()) or \
            re.search(rf"(?<![\w.]){re.escape(class_name)}\b", "\n".join(bodies)):
        raise UsageError(f"--class {class_name!r} is a name the copied code uses: the class would "
                         "hide it; choose another name")
    lines = ['"""' + f"{class_name}: a change to {base.NAME}'s {', '.join(attrs)}.", "",
             "Written by `zsmc variant new`; until edited it checks exactly like its base.",
             f"Check it:  zsmc check --variant {path}:{class_name} --depth 1",
             f"Review it: zsmc variant diff {path}:{class_name}", '"""', "",
             "from __future__ import annotations", ""]
    for module in sorted(imports, key=lambda m: (m not in ("checker", "model"), m)):
        lines.append(f"from {module} import {', '.join(sorted(imports[module]))}")
    lines += ["", "", f"class {class_name}({base.__name__}):",
              f'    """{base.NAME} with the change under review (describe it here)."""', ""]
    text = "\n".join(lines) + "\n" + "\n".join(bodies)
    try:      # what is written must load: a name that breaks it is refused, not written
        compile(text, path, "exec")
    except SyntaxError as exc:
        raise UsageError(f"--class {class_name!r}: the variant file would not compile ({exc.msg})") from None
    return text


def _class_name(path: str) -> str:
    stem = re.sub(r"[^0-9A-Za-z]+", " ", os.path.splitext(os.path.basename(path))[0]).title().replace(" ", "")
    if not stem or stem[0].isdigit():
        stem = "Patched" + stem
    return stem


def _variant_and_base(spec: str) -> tuple:
    """``(variant class, base version class, label)`` for FILE:Class, module:Class or a mutation."""
    reg = _registry()
    if spec in reg.MUTATIONS:
        m = reg.MUTATIONS[spec]
        if m.cls is None:
            raise UsageError(f"mutation {spec!r} is not expressible: {m.reason}")
        cls = m.cls
    else:
        cls = reg.load_variant(spec)
    if cls in reg.VERSIONS.values():
        raise UsageError(f"{spec} is a built-in version; diff a variant of it (FILE.py:Class)")
    base = next(v for v in reg.VERSIONS.values() if issubclass(cls, v))
    return cls, base, spec


def diff_text(spec: str) -> str:
    """The variant against its base, function by function (unified diffs)."""
    cls, base, label = _variant_and_base(spec)
    base_fns = model_functions(base)
    changed = []
    for klass in cls.__mro__:
        if klass is base or issubclass(base, klass):
            break
        for attr, fn in vars(klass).items():
            if inspect.isfunction(fn) and attr not in changed and not attr.startswith("__"):
                changed.append(attr)
    if not changed:
        return f"{label}: no function differs from {base.NAME}"
    out = [f"{label} against {base.NAME}: {len(changed)} function(s): {', '.join(changed)}"]
    for attr in changed:
        mine = textwrap.dedent(inspect.getsource(getattr(cls, attr)))
        if attr in base_fns:
            theirs = textwrap.dedent(inspect.getsource(base_fns[attr][1]))
            head = f"{base.NAME}:{attr}"
        else:
            theirs, head = "", f"{base.NAME}:{attr} (not in {base.NAME})"
        d = list(difflib.unified_diff(theirs.splitlines(), mine.splitlines(), head,
                                      f"{label}:{attr}", lineterm=""))
        out.append("")
        out.extend(d or [f"{attr}: same code as {base.NAME}'s"])
    return "\n".join(out)


# --------------------------------------------------------------------------- commands
@click.group(short_help="Write a patch as a variant file; diff it against its base.")
def variant():
    """Write a patch as a variant of a protocol version, and show it against its base."""


@variant.command(short_help="Write a variant file with the base's code of the named functions.")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--base", default="upstream", show_default=True, metavar="VERSION",
              help="The built-in version the patch changes (zsmc list variants).")
@click.option("--function", "functions", multiple=True, required=True, metavar="NAME",
              help="A kernel function the patch changes (repeatable; zsmc variant functions).")
@click.option("--class", "class_name", default=None, metavar="NAME",
              help="The class name (default: from FILE, e.g. fix_free.py -> FixFree).")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
def new(file, base, functions, class_name, force):
    """Write FILE: a subclass of BASE with BASE's current code of each --function."""
    name = class_name or _class_name(file)
    text = scaffold(base, functions, name, file)
    if os.path.exists(file) and not force:
        raise UsageError(f"{file} exists; use --force to overwrite it")
    from checker.trace import public_mode, write_atomic
    try:   # through a temporary file and a rename: never a half-written file
        os.makedirs(os.path.dirname(file) or ".", exist_ok=True)
        write_atomic(file, text, mode=public_mode(file))
    except OSError as exc:
        raise UsageError(f"cannot write {file}: {exc.strerror or exc}") from exc
    click.echo(f"wrote {file}: class {name}({_registry().VERSIONS[base].__name__}) with "
               f"{', '.join(_resolve_functions(_registry().VERSIONS[base], functions))}")
    click.echo(f"check it:  zsmc check --variant {file}:{name} --depth 1")
    click.echo(f"review it: zsmc variant diff {file}:{name}")
    return 0


@variant.command(short_help="Print a variant against its base, function by function.")
@click.argument("spec", metavar="FILE:CLASS")
def diff(spec):
    """Print the variant FILE:CLASS (or module:Class, or a mutation name) against the built-in
    version it subclasses: one unified diff per function it defines."""
    click.echo(diff_text(spec))
    return 0


@variant.command(short_help="List the kernel functions a variant of VERSION can change.")
@click.argument("version", default="upstream")
def functions(version):
    """List the model's functions of VERSION (the names --function accepts) and where they are."""
    reg = _registry()
    base = reg.VERSIONS.get(version)
    if base is None:
        raise UsageError(f"unknown version {version!r}; versions: {', '.join(reg.VERSIONS)}")
    rows = []
    for attr, (klass, fn) in sorted(model_functions(base).items()):
        kind = "kernel function" if inspect.isgeneratorfunction(fn) else "helper"
        rows.append((attr, klass.__name__, kind))
    from .format import table
    click.echo(table(rows))
    return 0
