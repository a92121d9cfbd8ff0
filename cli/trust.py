"""What ``zsmc replay`` and ``zsmc minimize`` run of a trace: the trust rules.

A trace file is data (docs/cli.md, "Trust").  Its program's loader is
registered code; its variant, when it is not built in (a file or a module),
runs only if the user names it (``--variant``) or asks for the recorded one
(``--trust-variant``, checked against the recorded SHA-256 of the file and of
the siblings it imported, found at its recorded path or next to the trace).
"""

from __future__ import annotations

import importlib
import shlex

from checker import trace as tr
from checker.errors import UsageError

PROGRAM_LOADER = "model.registry:build_from_params"


def trace_for_run(file, variant, trust):
    """Load a trace and apply the user's say on the variant code it needs.

    A trace is data: a variant that is not built in (a file or a module) runs
    only if the user names it (--variant) or asks for the recorded one
    (--trust-variant, hash-checked).  Returns ``(trace, note)``.
    """
    trace = tr.load_trace(file)
    program = trace["program"]
    if program["loader"] != PROGRAM_LOADER:
        if variant is not None or trust:
            raise UsageError(f"--variant and --trust-variant apply to traces of zsmc's model, not to "
                             f"{program['loader']}")
        return trace, ""
    reg = importlib.import_module("model.registry")
    vf = importlib.import_module("model.variant_files")
    params = dict(program.get("params") or {})
    spec = params.get("variant")
    recorded = params.get("variant_file")
    note = ""
    if variant is not None:
        cls = reg.load_variant(variant)
        params.update(variant=reg.describe_variant(cls)[0], mutation=None)
        params.pop("variant_file", None)
        mine = reg.variant_source(cls)
        if mine is not None:
            params["variant_file"] = mine
        if recorded and not vf.same_source(recorded, mine):
            note = (f"note: {variant} is not the variant the trace was recorded with "
                    f"({recorded.get('path')}): replaying on it, as asked")
        elif not recorded and spec != params["variant"]:
            note = f"note: the trace was recorded on {spec}; replaying on {variant}, as asked"
    elif trust:
        if not isinstance(recorded, dict):
            if reg.known_variant(spec):
                raise UsageError(f"--trust-variant: {file} runs the variant {spec}, which needs no trust")
            raise UsageError(f"{file} records no content hash for its variant {spec}; name the file "
                             "to run with --variant FILE.py:CLASS")
        found = vf.locate(recorded, file)
        cls = reg.load_variant(found)
        params["variant"] = reg.describe_variant(cls)[0]
    elif not reg.known_variant(spec) and not (isinstance(spec, str) and ":" in spec):
        # Neither built in nor code (FILE:CLASS, module:Class): a version this zsmc does not
        # have (renamed, or a newer zsmc's).  Naming it with --variant could not help.
        raise UsageError(f"{file} runs the variant {spec}, which this zsmc does not have (built-in "
                         f"versions: {', '.join(sorted(reg.VERSIONS))}); replay it with the zsmc "
                         f"that recorded it, or on a version with --variant NAME")
    elif not reg.known_variant(spec):
        hint = f"{recorded['path']}:{recorded['class']}" if isinstance(recorded, dict) and \
            isinstance(recorded.get("path"), str) else spec
        raise UsageError(f"{file} runs the variant {spec}: zsmc runs code only when you name it; add "
                         f"--variant {shlex.quote(str(hint))}, or --trust-variant to run the recorded file "
                         "after checking its SHA-256")
    trace["program"] = dict(program, params=params)
    return trace, note
