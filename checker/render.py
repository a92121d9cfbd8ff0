"""A trace for people: text lanes for a terminal, and a self-contained HTML picture.

Both read only the trace dict (its ``events``, ``pending``, ``stats`` and
``violation``), so rendering never runs the model (style.md lesson 12).  Each
step shows the CPU it ran on, its task, what it did in the kernel's words
(``spin_lock(&class->lock)``, ``mutex_trylock(...) = 0``), the kernel function
it is in (the task's most recent ``label(function)`` without info, which the
model emits at function entry), and marks for preemptions and sleeps.  After
the lanes: the locks each task holds at the violating step, and what the
unfinished tasks were about to do.  A trace whose violation needs earlier
executions (``runs``: a lock-order cycle with edges from several runs) shows
each of them first, in the order they are replayed.
"""

from __future__ import annotations

import html
import os

# Kernel spellings of lock operations, by lock kind: (acquire, shared acquire, release, shared release).
_VERBS = {
    "spinlock_t": ("spin_lock", "spin_lock", "spin_unlock", "spin_unlock"),
    "rwlock_t": ("write_lock", "read_lock", "write_unlock", "read_unlock"),
    "mutex": ("mutex_lock", "mutex_lock", "mutex_unlock", "mutex_unlock"),
    "rw_semaphore": ("down_write", "down_read", "up_write", "up_read"),
    "page lock": ("lock_page", "lock_page", "unlock_page", "unlock_page"),
    "lockdep_map": ("lock_acquire", "lock_acquire_shared", "lock_release", "lock_release"),
}
_TRY = {"spinlock_t": ("spin_trylock", "spin_trylock"), "rwlock_t": ("write_trylock", "read_trylock"),
        "mutex": ("mutex_trylock", "mutex_trylock"),
        "rw_semaphore": ("down_write_trylock", "down_read_trylock"),
        "page lock": ("trylock_page", "trylock_page"),
        "lockdep_map": ("lock_acquire_trylock", "lock_acquire_shared_trylock")}
_SLEEPS = ("sleep", "cond_resched")
_WIDTH = 56
# What a folded trace keeps: lock operations and what changes or uses preemption (the
# preempt count, sleeping, waiting, spinning), besides the choices of what each task
# does, every preemption, and the steps the violation names.
KEPT_OPS = frozenset({"acquire", "trylock", "release", "preempt_disable", "preempt_enable",
                      "cond_resched", "might_sleep", "sleep", "wait_unlocked", "spin_until", "choose"})
_PROGRAM_WIDTH = 110


class _Step:
    """One event prepared for display (derived, never stored)."""

    __slots__ = ("cpu", "fn", "i", "kept", "lock", "mark", "name", "preempts", "sleeps", "task", "text",
                 "tip")


def _prepare(trace: dict):
    """Display steps and the locks held at the end: ``(steps, held)``.

    ``held`` maps a task name to ``[(lock, kind, shared, step)]`` in acquisition order.
    """
    events = trace.get("events") or []
    viol = trace.get("violation") or {}
    involved = set(viol.get("involved") or ())
    fn = {}
    held = {}
    current = {}
    out = []
    for e in events:
        s = _Step()
        s.i, s.task, s.name, s.cpu = e["i"], e["task"], e["name"], e["cpu"]
        op = e.get("op") or e.get("action", "").split("(", 1)[0]
        mine = held.setdefault(s.name, [])
        s.lock = None
        if op == "label" and not e.get("info"):
            fn[s.name] = e.get("label") or e.get("action")
            s.text = f"-> {fn[s.name]}()"
        elif op == "label":
            facts = " ".join(f"{k}={v}" for k, v in e["info"].items())
            s.text = f"label {e.get('label')} {facts}"
        elif "lock" in e:
            s.text, s.lock = _lock_text(e, op, mine)
        elif op == "choose":
            s.text = f"choose -> {e.get('result', e.get('choice'))!r}"
        else:
            s.text = e.get("action", op)
            if "result" in e:
                s.text += f" -> {e['result']!r}"
        prev = current.get(s.cpu)
        s.preempts = prev if e.get("preemption") else None
        current[s.cpu] = s.name
        s.sleeps = op in _SLEEPS
        s.fn = fn.get(s.name, "")
        s.mark = ">>" if s.i == viol.get("step") else ("* " if s.i in involved else "  ")
        tip = [f"step {s.i}: {s.name} on CPU {s.cpu}", e.get("action", op)]
        if "result" in e:
            tip.append(f"result: {e['result']!r}")
        if "choice" in e:
            tip.append(f"choice: {e['choice']!r}")
        if s.fn:
            tip.append(f"in {s.fn}()")
        if e.get("pc"):
            tip.append(f"preempt count {e['pc']} (atomic)")
        if s.preempts:
            tip.append(f"preempts {s.preempts}")
        locks = ", ".join(_lock_name(h) for h in mine)
        tip.append(f"holds: {locks or 'no locks'}")
        s.tip = "\n".join(tip)
        s.kept = (op in KEPT_OPS or bool(e.get("preemption")) or s.mark != "  ")
        out.append(s)
    return out, {k: v for k, v in held.items() if v}


def _lock_text(e, op, mine):
    kind = e["lock"]
    verbs = _VERBS.get(kind, ("lock", "lock", "unlock", "unlock"))
    name = e.get("obj", "?")
    if op in ("acquire", "trylock"):
        shared = bool(e.get("shared"))
        ok = op == "acquire" or e.get("result") is True
        if ok:
            mine.append((name, kind, shared, e["i"]))
        if op == "trylock":
            verb = _TRY.get(kind, ("trylock", "trylock"))[1 if shared else 0]
            return f"{verb}(&{name}) = {1 if ok else 0}", name
        return f"{verbs[1 if shared else 0]}(&{name})", name
    if op == "release":
        shared = False
        for k in range(len(mine) - 1, -1, -1):
            if mine[k][0] == name:
                shared = mine[k][2]
                del mine[k]
                break
        return f"{verbs[3 if shared else 2]}(&{name})", name
    return e.get("action", op), name


def _lock_name(h) -> str:
    name, kind, shared, _ = h
    return f"{name} ({kind}{', shared' if shared else ''})"


def _header(trace: dict) -> list:
    viol = trace.get("violation") or {}
    prog = trace.get("program") or {}
    st = trace.get("stats") or {}
    tasks = ", ".join(f"{t['name']} (CPU {t['cpu']}{', ' + t['role'] if t.get('role') else ''})"
                      for t in trace.get("tasks") or [])
    message = str(viol.get("message")).splitlines() or [""]
    lines = [f"violation of {viol.get('property')} at step {viol.get('step')}: {message[0]}", *message[1:],
             f"program: {program_line(prog)} (expect {trace.get('expect')})"]
    if tasks:
        lines.append(f"tasks: {tasks}")
    if st:
        lines.append(f"{st.get('steps')} steps, {st.get('preemptions')} preemption(s), "
                     f"{st.get('context_switches')} context switch(es)")
    return lines


def _footer(trace: dict, held: dict) -> list:
    step = (trace.get("violation") or {}).get("step")
    lines = []
    if held:
        lines.append(f"locks held at step {step}:")
        lines += [f"  {task}: {', '.join(_lock_name(h) for h in hs)}" for task, hs in held.items()]
    else:
        lines.append(f"no locks held at step {step}")
    pending = trace.get("pending") or []
    if pending:
        lines.append("unfinished tasks, next action:")
    for p in pending:
        why = f" ({p['why']})" if p.get("why") else ""
        lines.append(f"  {p['name']}: {p['action']}{why}")
    return lines


def _earlier(trace: dict) -> list:
    """``(title, pseudo-trace)`` for each earlier run of the trace, with events."""
    runs = trace.get("runs") or []
    out = []
    for k, r in enumerate(runs):
        st = r.get("stats") or {}
        title = (f"earlier run {k + 1} of {len(runs)} (replayed first: the violation needs what it did)"
                 + (f": {st.get('steps')} steps, {st.get('preemptions')} preemption(s)" if st else ""))
        out.append((title, {"events": r.get("events") or [], "tasks": trace.get("tasks"), "violation": {}}))
    return out


def _here(value):
    """An absolute path under the working directory, shown relative to it (a file's
    absolute path is what the trace records; the reader wants the short one)."""
    if isinstance(value, str) and os.path.isabs(value):
        rel = os.path.relpath(value)
        if not rel.startswith(".."):
            return rel
    return value


def program_line(program: dict) -> str:
    """A trace's program in one short line: its scalar parameters (``variant=upstream
    scenario=read-compact depth=1 ...``), the others (task lists, the initial pool)
    named only, then the loader; the file has everything."""
    params = program.get("params") or {}
    scalars = [f"{k}={_here(v)}" for k, v in params.items()
               if isinstance(v, (str, int, float, bool)) and k != "format" and v is not None]
    nested = [k for k, v in params.items() if isinstance(v, (list, dict))]
    text = " ".join(scalars)
    if len(text) > _PROGRAM_WIDTH:
        text = text[:_PROGRAM_WIDTH - 1] + "~"
    if nested:
        text += f" (+ {', '.join(nested)})"
    return f"{text} [{program.get('loader')}]".strip()


def _fold(steps: list, all_steps: bool) -> tuple:
    """``(steps shown, note)``: all of them, or the kept ones and a line saying so."""
    if all_steps:
        return steps, None
    shown = [s for s in steps if s.kept]
    if len(shown) == len(steps):
        return steps, None
    return shown, (f"({len(shown)} of {len(steps)} steps shown: lock and preemption steps, "
                   f"choices and the violation's; --all-steps shows every step)")


def render_steps(trace: dict, all_steps: bool = False) -> str:
    """The violation and its trace, one line per step (``zsmc check``'s report): by default
    folded to the lock and preemption steps (see :data:`KEPT_OPS`; the step numbers
    show where others were left out); ``>>`` marks the violating step, ``*`` the steps the
    property points at."""
    viol = trace.get("violation") or {}
    steps, _ = _prepare(trace)
    lines = [f"violation of {viol.get('property')}: {viol.get('message')}"]
    shown, note = _fold(steps, all_steps)
    if note:
        lines.append(note)
    for s in shown:
        pre = f" (preempts {s.preempts})" if s.preempts else ""
        fn = f"  [{s.fn}]" if s.fn else ""
        lines.append(f"{s.mark}{s.i:4d}  cpu{s.cpu} {s.name:<14} {s.text}{pre}{fn}")
    return "\n".join(lines)


def render_text(trace: dict, all_steps: bool = True) -> str:
    """The trace as lanes: one column per CPU, one row per step, then the locks held.

    ``all_steps=False`` folds it to the lock and preemption steps (see :func:`render_steps`).
    """
    steps, held = _prepare(trace)
    lines = _header(trace)
    _, note = _fold(steps, all_steps)
    if note:
        lines.append(note)
    for title, run in _earlier(trace):
        lines += ["", title] + _lanes(run, _prepare(run)[0], all_steps)
    if trace.get("runs"):
        lines += ["", "the violating run:"]
    else:
        lines.append("")
    lines += _lanes(trace, steps, all_steps)
    lines.append("")
    lines += _footer(trace, held)
    return "\n".join(lines)


def _lanes(trace: dict, steps, all_steps: bool) -> list:
    cpus = sorted({s.cpu for s in steps} | {t["cpu"] for t in trace.get("tasks") or []})
    cells = {}
    for s in steps:
        marks = ("  zz" if s.sleeps else "") + (f"  !preempts {s.preempts}" if s.preempts else "")
        head = f"{s.name}  "
        cells[s.i] = head + _clip(s.text, max(_WIDTH - len(head) - len(marks), 12)) + marks
    width = {c: max([len(f"CPU {c}")] + [len(cells[s.i]) for s in steps if s.cpu == c]) for c in cpus}
    head = "      step  " + "  ".join(f"{'CPU ' + str(c):<{width[c]}}" for c in cpus) + "  in"
    shown, _ = _fold(steps, all_steps)
    lines = [head]
    for s in shown:
        row = "  ".join(f"{cells[s.i] if s.cpu == c else '':<{width[c]}}" for c in cpus)
        lines.append(f"  {s.mark}{s.i:6d}  {row}  {s.fn}".rstrip())
    if not steps:
        lines.append("  (no steps)")
    return lines


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 1] + "~"


# -- HTML ------------------------------------------------------------------------------------

_PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#bab0ac"]
_LANE, _ROW, _GUTTER, _TOP, _FN = 340, 24, 60, 40, 170
_CSS = """
body{font-family:system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:18px;margin:0 0 4px} p{margin:2px 0;font-size:13px}
svg text{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.step rect.box{fill-opacity:.18;stroke-width:1}
.step:hover rect.box{fill-opacity:.45;stroke-width:2}
.violating rect.box{fill:#e15759 !important;fill-opacity:.5;stroke:#b00 !important;stroke-width:3}
.involved rect.box{stroke:#e15759;stroke-dasharray:4 2;stroke-width:2}
.preempt{fill:#e15759} .sleep{fill:#555;font-style:italic}
.fn{fill:#666} .lanehead{font-weight:bold;font-size:13px}
table{border-collapse:collapse;font-size:13px;margin-top:8px} td,th{border:1px solid #ccc;padding:2px 8px}
"""


def render_html(trace: dict) -> str:
    """A self-contained page (no scripts, no network): lanes as SVG, details on hover."""
    esc = html.escape
    steps, held = _prepare(trace)
    earlier = []
    for title, run in _earlier(trace):
        earlier += [f"<h2>{esc(title)}</h2>", _svg(run, _prepare(run)[0])]
    if earlier:
        earlier.append("<h2>The violating run</h2>")
    viol_step = (trace.get("violation") or {}).get("step")
    head = _header(trace)
    held_rows = "".join(f"<tr><td>{esc(t)}</td><td>{esc(', '.join(_lock_name(h) for h in hs))}</td></tr>"
                        for t, hs in held.items()) or "<tr><td colspan=2>no locks held</td></tr>"
    pend = "".join(f"<tr><td>{esc(p['name'])}</td><td>{esc(p['action'])}</td><td>{esc(p.get('why') or '')}</td></tr>"
                   for p in trace.get("pending") or [])
    legend = ("<p>Hover a step for its details. Red box: the violating step; dashed: steps the "
              "property points at; red triangle: a preemption; zz: the task gives up its CPU; "
              "bars at the right of a lane: locks held.</p>")
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>zsmc trace: {esc(str((trace.get('violation') or {}).get('property')))}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{esc(head[0])}</h1>", *[f"<p>{esc(line)}</p>" for line in head[1:]], legend,
        *earlier, _svg(trace, steps),
        f"<h2>Locks held at step {esc(str(viol_step))}</h2>",
        f"<table><tr><th>task</th><th>locks</th></tr>{held_rows}</table>",
        (f"<h2>Unfinished tasks</h2><table><tr><th>task</th><th>next action</th><th>why</th></tr>"
         f"{pend}</table>" if pend else ""),
        "</body></html>", ""])


def _svg(trace: dict, steps) -> str:
    """One execution's lanes as an SVG picture."""
    esc = html.escape
    cpus = sorted({s.cpu for s in steps} | {t["cpu"] for t in trace.get("tasks") or []}) or [0]
    col = {c: _GUTTER + k * _LANE for k, c in enumerate(cpus)}
    names = [t["name"] for t in trace.get("tasks") or []] or sorted({s.name for s in steps})
    color = {n: _PALETTE[k % len(_PALETTE)] for k, n in enumerate(names)}
    width = _GUTTER + len(cpus) * _LANE + _FN
    height = _TOP + max(len(steps), 1) * _ROW + 10
    svg = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="trace lanes">')]
    for c in cpus:
        x = col[c]
        svg.append(f'<rect x="{x}" y="{_TOP - 6}" width="{_LANE - 8}" height="{height - _TOP}" fill="#f6f6f6"/>')
        svg.append(f'<text class="lanehead" x="{x + 4}" y="{_TOP - 14}">CPU {c}</text>')
    svg.append(f'<text class="lanehead" x="{_GUTTER + len(cpus) * _LANE}" y="{_TOP - 14}">function</text>')
    spans = _hold_spans(steps, trace)
    for k, (task, lock, cpu, a, b) in enumerate(spans):
        x = col[cpu] + _LANE - 14 - (k % 4) * 4
        y1, y2 = _TOP + a * _ROW, _TOP + (b + 1) * _ROW - 4
        svg.append(f'<rect x="{x}" y="{y1}" width="3" height="{y2 - y1}" fill="{color.get(task, "#888")}">'
                   f'<title>{esc(task)} holds {esc(lock)} (steps {a}-{b})</title></rect>')
    viol_step = (trace.get("violation") or {}).get("step")
    for row, s in enumerate(steps):
        y = _TOP + row * _ROW
        x = col[s.cpu]
        cls = "step" + (" violating" if s.i == viol_step else "") + (" involved" if s.mark == "* " else "")
        c = color.get(s.name, "#888")
        svg.append(f'<g class="{cls}" id="step-{s.i}"><title>{esc(s.tip)}</title>')
        svg.append(f'<rect class="box" x="{x}" y="{y}" width="{_LANE - 22}" height="{_ROW - 4}" rx="3" '
                   f'fill="{c}" stroke="{c}"/>')
        svg.append(f'<text x="8" y="{y + 15}">{s.i}</text>')
        svg.append(f'<text x="{x + 6}" y="{y + 15}">{esc(_clip(s.name + "  " + s.text, 42))}</text>')
        if s.preempts:
            svg.append(f'<path class="preempt" d="M{x - 10},{y + 2} l8,8 l-8,8 z"/>')
        if s.sleeps:
            svg.append(f'<text class="sleep" x="{x + _LANE - 50}" y="{y + 15}">zz</text>')
        svg.append(f'<text class="fn" x="{_GUTTER + len(cpus) * _LANE}" y="{y + 15}">{esc(s.fn)}</text>')
        svg.append("</g>")
    svg.append("</svg>")
    return "".join(svg)


def _hold_spans(steps, trace):
    """``(task, lock, cpu, first row, last row)`` for each lock hold, for the picture."""
    open_ = {}
    spans = []
    for row, s in enumerate(steps):
        if s.lock is None:
            continue
        key = (s.name, s.lock)
        if s.text.startswith(("spin_unlock", "write_unlock", "read_unlock", "mutex_unlock", "up_",
                              "unlock_page", "lock_release")):
            if open_.get(key):
                spans.append((s.name, s.lock, s.cpu, open_[key].pop(), row))
        elif not s.text.endswith("= 0"):
            open_.setdefault(key, []).append(row)
    last = len(steps) - 1
    for (task, lock), rows in open_.items():
        cpu = next(s.cpu for s in steps if s.name == task)
        spans += [(task, lock, cpu, r, last) for r in rows]
    return spans
