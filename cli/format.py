"""How the command line says things: check reports (text and JSON), progress, lists.

Pure formatting over plain values, so the commands in :mod:`cli` stay a
parse-call-print sequence and this module is testable without a terminal.
The JSON document of ``zsmc check --format json`` is versioned
(``"format": "zsmc-check", "version": 1``) like every zsmc artefact.
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass, field

from .early import CHECK_FORMAT, CHECK_VERSION, STATUS, one_line

# What a scenario's note says when a file the check was asked to keep was not written
# (checker.parallel: "checkpoint not saved: ..."): printed even with -q.
NOT_SAVED = "not saved: "


@dataclass(slots=True)
class TraceRecord:
    """A violation and the trace file written for it.

    ``minimized`` is the minimiser's report when the file holds the minimised
    trace; otherwise ``note`` says why it holds the trace as found.  ``args``:
    what ``zsmc replay`` needs besides the path (``--variant FILE:CLASS`` for
    a variant of the user's: a trace names no code that replay would run).
    """

    violation: object
    path: str | None
    minimized: object = None
    note: str = ""
    trace: dict = None      # the trace the file holds (the minimised one once minimised)
    args: str = ""

    @property
    def replay(self) -> str:
        return f"zsmc replay {shlex.quote(self.path)}{self.args}"


@dataclass(slots=True)
class ScenarioRun:
    """One scenario's exploration: its parameters, the engine's Result, its traces."""

    name: str
    params: dict
    result: object
    traces: list = field(default_factory=list)
    shallower: int | None = None      # explored at this depth, below the check's: a bug found first
                                      # there (first bugs first), or a review scenario
    kernel: str | None = None         # "PREEMPT_RT" for a run of a !RT check's RT pass


EXIT_INTERRUPTED = {2: 130, 15: 143, 1: 129}    # SIGINT, SIGTERM, SIGHUP: 128 + the signal, the shell's convention


EXIT_VACUOUS = 5                        # not a pass: the changed code never ran


def exit_code(runs, interrupted=None, unrun=()) -> int:
    """1 if anything was violated; else, if interrupted (``interrupted`` is the
    signal), 130 or 143; else 3 if any scenario is incomplete; else 5 if a
    function the variant changes never ran (``unrun``); else 0."""
    if any(r.result.violations for r in runs):
        return 1
    if interrupted is not None:
        return EXIT_INTERRUPTED.get(int(interrupted), 128 + int(interrupted))
    if any(not r.result.complete for r in runs):
        return 3
    if unrun:
        return EXIT_VACUOUS
    return 0




# --------------------------------------------------------------------------- text
def check_header(h: dict, scenarios) -> str:
    props = ", ".join(h["properties"]) if h["properties"] else "every property that applies"
    bound = "" if h["preemption_bound"] is None else f", preemption bound {h['preemption_bound']}"
    # The seed comes first thing, so an interrupted sampled run can be repeated.
    kernel = ", kernel PREEMPT_RT" if h.get("config") == "rt" else ""
    if h.get("memory_model", "sc") != "sc":
        kernel += f", memory model {h['memory_model']}"
    return (f"zsmc check: variant {h['variant']}, depth {h['depth']}{kernel}, scheduler {h['scheduler']}"
            f"{bound}, seed {h['seed']}\n"
            f"  scenarios: {', '.join(scenarios)}\n"
            + ("  and on PREEMPT_RT, at depth 1 (--quick leaves it out): the scenarios above\n"
               if h.get("rt_pass") else "")
            + (f"  review scenarios, at depth 1 (--quick leaves them out): "
               f"{', '.join(h['review'])}\n" if h.get("review") else "")
            + f"  properties: {props}")


def scenario_text(run: ScenarioRun, quiet: bool = False, all_steps: bool = False) -> str:
    """One scenario's report: its counts, then each violation's trace (the one the file
    holds, folded to lock and preemption steps unless ``all_steps``) and the commands.
    ``quiet``: the trace files only, one line each."""
    if quiet:
        # A trace that could not be written says why (it said "trace: None"), and so does a
        # checkpoint that could not be saved (-q said nothing: a resume would start over).
        lines = [f"{'trace: ' + rec.path if rec.path is not None else rec.note}  "
                 f"[{rec.violation.property}] {rec.violation.message}" for rec in run.traces]
        lost = [n.strip() for n in (run.result.note or "").split("; ") if NOT_SAVED in n]
        return "\n".join(lines + [f"note: {run.name}: {n}" for n in lost])
    r = run.result
    state = "complete" if r.complete else f"incomplete ({r.reason or 'no reason given'})"
    if r.complete and r.preemption_bound is not None and r.bound_cut:
        state = f"complete within preemption bound {r.preemption_bound} (the bound cut {r.bound_cut} branches)"
    elif r.bound_covered is not None and not r.complete and not r.violations:
        state += f"; every execution with at most {r.bound_covered} preemption(s) explored"
    elif r.complete and "dpor was complete" in r.scheduler:
        state = "complete (dpor explored every execution: the bound cut nothing)"
    elif r.complete and "auto" in r.scheduler:
        state = f"complete (preemption bound {r.preemption_bound} cut nothing)"
    extra = f", {r.deadlocks} deadlocked" if r.deadlocks else ""
    cpus = run.params.get("cpus") if isinstance(run.params, dict) else None
    where = "" if cpus is None else f" ({cpus} CPU{'' if cpus == 1 else 's'})"
    if run.kernel is not None:
        where += f" on {run.kernel}"
    if run.shallower is not None:
        where += f" at depth {run.shallower}"
    lines = [(f"scenario {run.name}{where}: {r.executions} executions, {r.redundant} redundant{extra}, "
              f"{r.elapsed:.2f}s, {state}")]
    if getattr(r, "note", ""):
        lines.append(f"  note: {r.note}")
    for rec in run.traces:
        lines.append("")
        if rec.trace is not None:
            from checker.render import render_steps
            lines.append(render_steps(rec.trace, all_steps=all_steps))
        else:
            lines.append(rec.violation.render())
        if rec.path is None:
            lines.append(rec.note)
            lines.append("")
            continue
        lines.append(f"trace: {rec.path}")
        if rec.minimized is not None:
            lines.append("  minimised: " + minimize_line(rec.minimized))
        elif rec.note:
            lines.append(f"  {rec.note}")
        lines.append(f"replay: {rec.replay}")
        lines.append(f"show:   zsmc show {shlex.quote(rec.path)}")
        lines.append("")
    return "\n".join(lines)


def check_footer(runs, code: int) -> str:
    n = len(runs)
    if code == 1:
        found = sum(len(r.result.violations) for r in runs)
        hit = sum(1 for r in runs if r.result.violations)
        return f"result: VIOLATION ({found} violation(s) in {hit} of {n} scenario(s))"
    if code in (129, 130, 143):
        done = [r.name for r in runs if r.result.complete]
        return (f"result: interrupted, not verified ({len(done)} of {n} scenario(s) explored completely"
                f"{': ' + ', '.join(done) if done else ''}; no violation in what was explored)")
    if code == 3:
        short = [r.name for r in runs if not r.result.complete]
        return (f"result: incomplete, not verified ({len(short)} of {n} scenario(s) not explored "
                f"completely: {', '.join(short)}; no violation in what was explored)")
    bounded = sorted({r.result.preemption_bound for r in runs if r.result.bound_cut and r.result.complete})
    if bounded:
        return (f"result: pass within preemption bound {bounded[-1]} ({n} scenario(s) explored "
                f"completely up to the bound, no violation; executions beyond it were not explored)")
    if code == 5:
        return (f"result: NOT A PASS ({n} scenario(s) explored completely, no violation, but code "
                f"the variant changes never ran)")
    return f"result: pass ({n} scenario(s) explored completely, no violation)"


def never_ran_lines(unrun) -> list:
    """One line per function a variant changes that no explored execution ran."""
    out = []
    for fn, where, lines in unrun:
        if where:
            hint = (f"scenario {where[0]} runs it at depth {where[1]}: zsmc check --scenario "
                    f"{where[0]} --depth {where[1]}")
        elif lines is None:   # (where_it_runs explores briefly: a hint, not a proof)
            hint = ("a brief search of the default scenarios (this depth and the next) and the "
                    "review scenarios (depth 1) found none that runs it; write a scenario that calls it")
        else:   # the function ran: what is missing is a way through it
            hint = ("a brief search of the default scenarios (this depth and the next) and the "
                    "review scenarios (depth 1) found none that takes it; write a scenario that does")
        if lines is None:
            out.append(f"  never ran: {fn} (changed by the variant); {hint}")
            continue
        # An int: a changed statement; "LINE:0|1" (or "LINE:cK:0|1", an operand): the untaken
        # way of a changed condition; "LINE:bK": a new comparison never at its boundary.
        bounds = sum(1 for k, _ in lines if ":b" in str(k))
        parts = [f"{n} {what}" for n, what in (
            (sum(1 for k, _ in lines if isinstance(k, int)), "changed line(s)"),
            (sum(1 for k, _ in lines if not isinstance(k, int)) - bounds, "changed branch(es)"),
            (bounds, "comparison boundary(ies)")) if n]
        out.append(f"  never ran: {' and '.join(parts)} of {fn}; {hint}")
        out += [f"    {text}" for _, text in lines]
    return out


def coverage_text(runs, functions) -> str:
    """Which kernel functions ran where, which operations ran together, and which of those
    worked on one zspage (``same:``)."""
    ran = {}
    pairs = {}
    same = {}
    for r in runs:
        cpus = r.params.get("cpus") if isinstance(r.params, dict) else None
        label = r.name if cpus is None else f"{r.name}/{cpus}"
        for k, n in r.result.coverage.items():
            if k.startswith("fn:"):
                ran.setdefault(k[3:], []).append((label, n))
            elif k.startswith("pair:"):
                pairs.setdefault(cpus, set()).add(k[5:])
            elif k.startswith("same:"):
                same.setdefault(cpus, set()).add(k[5:])
    lines = ["coverage (kernel function: executions, scenarios/CPUs it ran in):"]
    width = max((len(f) for f in functions), default=10)
    for fn in sorted(set(functions) | set(ran)):
        where = ran.get(fn)
        if not where:
            lines.append(f"  {fn:<{width}}  NEVER RAN")
            continue
        total = sum(n for _, n in where)
        names = ", ".join(w for w, _ in where[:4]) + (f", +{len(where) - 4}" if len(where) > 4 else "")
        lines.append(f"  {fn:<{width}}  {total:7d}  {names}")
    for cpus in sorted(pairs, key=lambda c: (c is None, c)):
        lines.append(f"  operations together on {cpus} CPU(s): {', '.join(sorted(pairs[cpus]))}")
    for cpus in sorted(same, key=lambda c: (c is None, c)):
        lines.append(f"  operations on one zspage on {cpus} CPU(s): {', '.join(sorted(same[cpus]))}")
    return "\n".join(lines)


def minimize_counts(rep) -> str:
    """``preemptions 3 -> 1, context switches 9 -> 4, steps 80 -> 31`` from a MinimizeReport."""
    return (f"preemptions {rep.before_preemptions} -> {rep.after_preemptions}, "
            f"context switches {rep.before_context_switches} -> {rep.after_context_switches}, "
            f"steps {rep.before_steps} -> {rep.after_steps}")


def minimize_line(rep) -> str:
    """The counts and whether the ordering was proved optimal, on one line (for ``check``)."""
    proof = "optimal (proved)" if rep.optimal else "not proved optimal"
    return f"{minimize_counts(rep)}; {proof}"


def minimize_text(rep) -> str:
    """The ``zsmc minimize`` report: counts, both proofs, the minimiser's notes."""
    fewest = getattr(rep, "fewest_preemptions", None)
    return "\n".join([
        f"minimised: {minimize_counts(rep)}",
        "ordering: " + ("proved optimal by z3" if rep.optimal else "not proved optimal (the notes say why)"),
        "preemptions: " + ("proved the fewest of any execution violating this property" if fewest
                           else "not proved the fewest over all executions"),
    ] + ([f"notes: {rep.message}"] if rep.message else []))


def minimize_json(rep) -> dict:
    return {"before": {"preemptions": rep.before_preemptions, "context_switches": rep.before_context_switches,
                       "steps": rep.before_steps},
            "after": {"preemptions": rep.after_preemptions, "context_switches": rep.after_context_switches,
                      "steps": rep.after_steps},
            "optimal": rep.optimal, "fewest_preemptions": getattr(rep, "fewest_preemptions", None),
            "message": rep.message}


def replay_text(path: str, expect: str, outcome) -> str:
    """The replayed violation (if any), what the replay found, and how that meets ``expect``."""
    lines = [outcome.violation.render()] if outcome.violation is not None else []
    lines.append(f"{path}: {outcome.message}")
    if expect == "pass":
        lines.append("the trace expects no violation: it is back (a regression)" if outcome.violation
                     else "passes, as the trace expects")
    elif outcome.violation is None:
        lines.append("the trace expects a violation: it no longer happens")
    return "\n".join(lines)


def on_rt_pass(h: dict, params) -> bool:
    """Whether the run of ``params`` is the PREEMPT_RT pass of a !RT check (header ``h``)."""
    return bool(h.get("rt_pass")) and isinstance(params, dict) and params.get("config") == "rt"


def check_command(h: dict, scenario: str, params: dict) -> dict:
    """A trace's ``meta``: the check's settings and the command that finds it again."""
    depth = h["depth"]
    config = h.get("config", "default")
    rt_pass = on_rt_pass(h, params)
    if (scenario in h.get("review", ()) or rt_pass) and isinstance(params, dict):
        depth = params.get("depth", depth)        # a review scenario, the RT pass: depth 1 only
    if rt_pass:
        config = "rt"
    cmd = ["zsmc", "check", "--depth", str(depth)]
    if config != "default":
        cmd += ["--config", config]
    if h.get("memory_model", "sc") != "sc":
        cmd += ["--memory-model", h["memory_model"]]
    if h["mutation"]:
        cmd += ["--mutation", h["mutation"]]
    else:
        cmd += ["--variant", h["variant"]]
    cmd += ["--scenario", scenario]
    if isinstance(params, dict) and params.get("cpus") is not None:
        cmd += ["--cpus", str(params["cpus"])]
    cmd += ["--scheduler", h["scheduler"], "--seed", str(h["seed"])]
    if h["preemption_bound"] is not None:
        cmd += ["--preemption-bound", str(h["preemption_bound"])]
    for p in h["properties"] or ():
        cmd += ["--property", p]
    meta = {k: h[k] for k in ("variant", "mutation", "scheduler", "preemption_bound", "seed")}
    meta["command"] = " ".join(shlex.quote(c) for c in cmd)
    return meta


# --------------------------------------------------------------------------- json
def check_json(h: dict, runs, code: int, unrun=(), error=None) -> str:
    """The report's document; ``error``: the line of an error that ended the check
    (cli.early: then ``runs`` are the scenarios reported before it)."""
    doc = {"format": CHECK_FORMAT, "version": CHECK_VERSION, **h,
           "status": STATUS.get(code, "error"), "exit_code": code,
           **({} if error is None else {"error": one_line(error)}),
           "violations": sum(len(r.result.violations) for r in runs),
           "never_ran": [{"function": fn, "runs_in": list(w) if w else None,
                          "lines": None if lines is None else [n for n, _ in lines]}
                         for fn, w, lines in unrun],
           "scenarios": [_run_json(r) for r in runs]}
    return json.dumps(doc, indent=2, default=repr)


def _run_json(run: ScenarioRun) -> dict:
    r = run.result
    return {"name": run.name, "params": run.params, "executions": r.executions,
            "redundant": r.redundant, "pruned": r.pruned, "deadlocks": r.deadlocks, "steps": r.steps,
            "elapsed": round(r.elapsed, 4), "complete": r.complete, "reason": r.reason,
            "max_preemptions": r.max_preemptions, "preemption_bound": r.preemption_bound,
            "bound_cut": r.bound_cut, "bound_covered": r.bound_covered, "note": r.note,
            "coverage": dict(sorted(r.coverage.items())),
            "violations": [_trace_json(t) for t in run.traces]}


def _trace_json(rec: TraceRecord) -> dict:
    v = rec.violation
    d = {"property": v.property, "message": v.message, "step": v.step, "task": v.task,
         "trace": rec.path, "replay": rec.replay if rec.path is not None else None}
    if getattr(v, "details", None):
        d.update(v.details)
    if rec.minimized is not None:
        d["minimized"] = minimize_json(rec.minimized)
    elif rec.note:
        d["note"] = rec.note
    return d


# --------------------------------------------------------------------------- progress
class Progress:
    """``on_progress`` for explore: one self-overwriting line on a terminal's stderr."""

    def __init__(self, stream, label: str):
        self.stream = stream
        self.label = label
        self.width = 0

    @classmethod
    def for_stderr(cls, label: str):
        """A Progress on stderr, or None when stderr is not a terminal (CI, pipes, tests)."""
        err = sys.stderr
        isatty = getattr(err, "isatty", None)
        return cls(err, label) if isatty is not None and isatty() else None

    def __call__(self, result) -> None:
        text = (f"{self.label}: {result.executions} executions ({result.rate:.0f}/s), "
                f"{len(result.violations)} violation(s), {result.elapsed:.0f}s")
        if result.reason:
            text += f", {result.reason}"
        pad = max(0, self.width - len(text))
        self.width = len(text)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()

    def done(self) -> None:
        """Erase the progress line, so the report that follows starts clean."""
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


class JsonProgress:
    """``on_progress`` for ``--format json``: one JSON record per line on stderr, for CI
    logs (stdout keeps the one final document)."""

    def __init__(self, stream, label: str):
        self.stream = stream
        self.label = label

    def __call__(self, result) -> None:
        rec = {"format": "zsmc-progress", "scenario": self.label, "executions": result.executions,
               "redundant": result.redundant, "rate": round(result.rate, 1),
               "violations": len(result.violations), "elapsed": round(result.elapsed, 2)}
        if result.reason:
            rec["progress"] = result.reason
        self.stream.write(json.dumps(rec) + "\n")
        self.stream.flush()

    def done(self) -> None:
        pass


# --------------------------------------------------------------------------- lists
def table(rows) -> str:
    """Two or more columns, the first padded; the last column is free text."""
    rows = [tuple("" if c is None else str(c) for c in row) for row in rows]
    if not rows:
        return ""
    ncol = max(len(r) for r in rows)
    widths = [max(len(r[i]) for r in rows if len(r) > i) for i in range(ncol - 1)]
    out = []
    for r in rows:
        cells = [c.ljust(widths[i]) if i < len(r) - 1 else c for i, c in enumerate(r)]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def doc_line(obj) -> str:
    """The first sentence of an object's docstring (the class's own, not inherited),
    on one line and without reST markup."""
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    if not doc or not doc.strip():
        return "(no description)"
    para = " ".join(doc.strip().split("\n\n")[0].split()).replace("``", "")
    end = para.find(". ")
    return para if end < 0 else para[:end + 1]


def variant_rows(reg):
    return [(name, doc_line(cls)) for name, cls in reg.VERSIONS.items()]


def mutation_rows(reg):
    rows = []
    for name, m in reg.MUTATIONS.items():
        expressible = getattr(m, "expressible", True) and m.cls is not None
        what = m.summary if expressible else f"not expressible: {m.reason or 'no reason given'} ({m.summary})"
        prop = m.expected_property if expressible else "-"
        rows.append((name, m.base, prop, what))
    return rows


def scenario_rows(reg):
    rows = []
    for name, s in reg.SCENARIOS.items():
        default = "default" if getattr(s, "default", True) else "review" if getattr(s, "review", False) else ""
        rows.append((name, f"cpus {s.default_cpus} (min {s.min_cpus})", default, s.description))
    return rows


LIST_ROWS = [
    ("variants", "protocol versions (zsmc check --variant NAME)"),
    ("mutations", "seeded bugs of the catalogue, with their origin and the property each violates"),
    ("properties", "what is checked (zsmc check --property NAME)"),
    ("scenarios", "initial pools and tasks (zsmc check --scenario NAME)"),
    ("schedulers", "searches (zsmc check --scheduler NAME)"),
]


def property_rows(registry: dict):
    from checker.errors import ZsmcError
    from checker.monitor import ENGINE_PROPERTIES, resolve
    rows = [(name, desc) for name, desc in ENGINE_PROPERTIES.items()]
    for name in registry:
        try:
            m = resolve(name)
            desc = m.description or doc_line(type(m))
        except ZsmcError as exc:
            desc = f"(unavailable: {exc})"
        rows.append((name, desc))
    return rows
