"""What ``zsmc check --format json`` prints when it ends before its report.

A tool that reads the JSON document must get one whatever ends the check: a
bad option, a variant file that does not load, a damaged checkpoint, the time
limit running out while the variant loads, an interrupt while zsmc starts, a
model error during the search.  The error line still goes to stderr; stdout
gets one document of the report's format with ``status`` (``error``,
``incomplete`` or ``interrupted``), ``exit_code`` and ``error`` (that line's
text), never two documents (:data:`WRITTEN`).

Imported by :mod:`cli`'s ``__init__`` before anything else (an interrupt during
the imports prints the document too): the standard library's ``json`` only.
"""

from __future__ import annotations

import json

CHECK_FORMAT = "zsmc-check"
CHECK_VERSION = 1
STATUS = {0: "pass", 1: "violation", 3: "incomplete", 5: "not a pass", 130: "interrupted", 143: "interrupted",
          129: "interrupted"}

# Whether this command has printed its JSON document (the report's, or an early one):
# reset by each ``zsmc`` invocation, set by whoever prints one.
WRITTEN = [False]


def wants_json(argv, takes_value=frozenset()) -> bool:
    """Whether ``argv`` (the arguments after the program's name) is ``zsmc check`` with
    ``--format json``, read before (or without) click's parsing: a bad option must get
    the document too.  ``takes_value``: the options of ``check`` that take a value, so
    that a value that looks like ``--format`` is not taken for it (unknown at import:
    then every ``--format`` counts)."""
    args = [a for a in argv if isinstance(a, str)]
    i = 0
    while i < len(args) and args[i].startswith("-"):    # the group's own flags (--help, --version)
        i += 1
    if i >= len(args) or args[i] != "check":
        return False
    chosen, j = None, i + 1
    while j < len(args):
        a = args[j]
        if a == "--":
            break
        if a.startswith("--format="):
            chosen = a.split("=", 1)[1]
        elif a == "--format":
            chosen = args[j + 1] if j + 1 < len(args) else None
            j += 1
        elif a in takes_value:
            j += 1
        j += 1
    return chosen == "json"


def one_line(message) -> str:
    """A message on one line, as ``zsmc: error:`` prints it (a multi-line model error folded)."""
    return "; ".join(part.strip() for part in str(message).splitlines() if part.strip())


def document(code: int, message: str, **fields) -> str:
    """The document of a check that ended with exit ``code`` before its report."""
    doc = {"format": CHECK_FORMAT, "version": CHECK_VERSION, **fields,
           "status": STATUS.get(code, "error"), "exit_code": code, "error": one_line(message),
           "violations": 0, "never_ran": [], "scenarios": []}
    return json.dumps(doc, indent=2, default=repr)
