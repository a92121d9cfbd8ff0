"""``irq-lock-state``: lockdep's IRQ-state rules, over every explored execution.

What kernel/locking/lockdep.c checks with its usage bits
(Documentation/locking/lockdep-design.rst, "State" and "Single-lock state
rules", "Multi-lock dependency rules"), for programs with interrupt handlers
(:mod:`checker.interrupts`):

* *Usage*: each acquisition of a lock class (``Lock.cls``; ``LockMap``
  annotations count, ``PageLock`` does not) records how it was taken: in hard
  interrupt context (``IN-HARDIRQ``) or with hard interrupts enabled
  (``HARDIRQ-ON``), in softirq context (``IN-SOFTIRQ``) or with softirqs
  enabled (``SOFTIRQ-ON``), each for read (a shared acquisition) or write.
* *Inconsistent lock state*: a class used in an interrupt context and also
  taken with that interrupt enabled, ``{IN-HARDIRQ-W} -> {HARDIRQ-ON-W}`` and
  the like (a read in the interrupt and a read with it enabled is allowed: an
  interrupt-context reader of an rwlock is recursive).  An interrupt on the
  CPU of the task holding the lock spins on it for ever.
* *IRQ-safe to IRQ-unsafe*: a task holding a lock class used in an interrupt
  context (safe) takes one taken with that interrupt enabled (unsafe),
  "HARDIRQ-safe -> HARDIRQ-unsafe lock order detected": another CPU can hold
  the unsafe lock, be interrupted, and its handler wait for the safe one.
  Checked on direct dependencies (the held lock and the one taken); lockdep
  follows paths.

Like ``lock-order``, the usage lives for the whole ``explore()`` call: two
usages seen in different executions are reported once both are seen, as
lockdep would; a split search merges its subtrees' usage
(:meth:`export_state`, :meth:`merge`).  Checked in ``on_pending``, when the
acquisition is attempted: what it records is the task's own state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from checker import Monitor
from checker import actions as A

_ACQUIRE, _TRYLOCK = A.ACQUIRE, A.TRYLOCK
_HARD, _SOFT = "HARDIRQ", "SOFTIRQ"
_CONTEXT = {_HARD: "hard interrupt context", _SOFT: "softirq context"}
_ENABLED = {_HARD: "hard interrupts enabled", _SOFT: "softirqs enabled"}


@dataclass(slots=True, frozen=True)
class Use:
    """Where a usage of a lock class was first seen."""

    run: int                # 1-based: the run-th execution started by the search
    task: str
    action: str
    after_step: int         # the task's last step before the acquisition (-1: none)
    schedule: tuple = ()    # (task, choice) of every step of that run up to after_step


def usages(t, shared: bool) -> list:
    """The usage bits of an acquisition by task ``t`` now: ``(state, in_context, mode)``."""
    mode = "R" if shared else "W"
    out = []
    if t.irq == "hard":
        out.append((_HARD, True, mode))
    elif not t.irqs_off:
        out.append((_HARD, False, mode))
    if t.irq == "soft":
        out.append((_SOFT, True, mode))
    elif t.irq is None and not t.irqs_off and not t.bh_off:
        out.append((_SOFT, False, mode))
    return out


def bit_name(bit) -> str:
    state, inside, mode = bit
    return f"{'IN-' if inside else ''}{state}{'' if inside else '-ON'}-{mode}"


def _clash(a, b) -> bool:
    """Whether usages ``a`` and ``b`` of one class are inconsistent."""
    return (a[0] == b[0] and a[1] != b[1] and (a[2] == "W" or b[2] == "W"))


class IrqLockState(Monitor):
    name = "irq-lock-state"
    description = ("lockdep: no lock class used in interrupt context and taken with that "
                   "interrupt enabled, no IRQ-safe -> IRQ-unsafe dependency")

    def __init__(self, seed=None):
        """``seed``: usage already seen elsewhere (a split search's other subtrees)."""
        self.seed = seed
        self.usage = {}          # class -> {bit: Use}
        self.deps = {}           # (held class, taken class) -> Use
        self.runs = 0
        self._world = None
        self._reported = set()

    def applies(self, program) -> bool:
        return program.has_interrupts

    def on_explore_start(self, program):
        seed = self.seed or {}
        self.usage = {cls: dict(bits) for cls, bits in seed.get("usage", {}).items()}
        self.deps = dict(seed.get("deps", {}))
        self.runs = 0
        self._world = None
        self._reported = set()

    # -- a split search ------------------------------------------------------------------
    def export_state(self) -> dict:
        return {"usage": [(cls, list(bit), asdict(u)) for cls, bits in self.usage.items()
                          for bit, u in bits.items()],
                "deps": [(list(k), asdict(u)) for k, u in self.deps.items()]}

    def merge(self, states):
        """Usages and dependencies joined in subtree order; each that makes a new finding
        is replayed in the run that saw it, against what came before."""
        merged = {"usage": {}, "deps": {}}
        for state in states:
            for cls, bit, use in state.get("usage", ()):
                bit, use = tuple(bit), Use(**{**use, "schedule": _tuple(use["schedule"])})
                bits = merged["usage"].setdefault(cls, {})
                if bit in bits:
                    continue
                if any(_clash(bit, b) for b in bits) or self._unsafe_after(merged, cls, bit):
                    yield IrqLockState(seed=_copy(merged)), use.schedule
                bits[bit] = use
            for key, use in state.get("deps", ()):
                key, use = tuple(key), Use(**{**use, "schedule": _tuple(use["schedule"])})
                if key in merged["deps"]:
                    continue
                if _safe_unsafe(merged["usage"], *key):
                    yield IrqLockState(seed=_copy(merged)), use.schedule
                merged["deps"][key] = use

    @staticmethod
    def _unsafe_after(merged, cls, bit) -> bool:
        usage = dict(merged["usage"])
        usage[cls] = {**usage.get(cls, {}), bit: None}
        return any(_safe_unsafe(usage, p, n) for p, n in merged["deps"] if cls in (p, n))

    # -- the hook ------------------------------------------------------------------------
    def on_pending(self, world, t, a):
        op = a.op
        if op != _ACQUIRE and op != _TRYLOCK:
            return
        lk = a.obj
        if not lk.lockdep:
            return
        if world is not self._world:
            self._world = world
            self.runs += 1
        cls = lk.cls
        new = [b for b in usages(t, bool(a.arg)) if b not in self.usage.get(cls, {})]
        deps = [(h.cls, cls) for h, _ in t.held
                if h.lockdep and h.cls != cls and (h.cls, cls) not in self.deps]
        if not new and not deps:
            return
        use = Use(self.runs, t.name, a.describe(), len(world.events) - 1,
                  tuple((e.task, e.choice) for e in world.events))
        bits = self.usage.setdefault(cls, {})
        for bit in new:
            old = next(((b, u) for b, u in bits.items() if _clash(bit, b)), None)
            bits[bit] = use
            if old is not None:
                self._inconsistent(world, t, cls, old, (bit, use))
        for key in deps:
            self.deps[key] = use
        for p, n in {*deps, *((p, n) for p, n in self.deps if cls in (p, n) and new)}:
            found = _safe_unsafe(self.usage, p, n)
            if found is not None:
                self._safe_unsafe(world, t, p, n, found, self.deps[p, n])

    # -- reports -------------------------------------------------------------------------
    def _inconsistent(self, world, t, cls, old, new):
        key = ("inconsistent", cls, frozenset((old[0][0], old[0][1])))
        if key in self._reported:
            return
        self._reported.add(key)
        inside, outside = (old, new) if old[0][1] else (new, old)
        state = inside[0][0]
        world.report(self.name,
                     f"inconsistent lock state: {{{bit_name(inside[0])}}} -> {{{bit_name(outside[0])}}} "
                     f"usage of {cls}: {_where(inside[1])} in {_CONTEXT[state]}, and "
                     f"{_where(outside[1])} with {_ENABLED[state]}; an interrupt on the CPU of "
                     f"a task holding it waits for it for ever",
                     task=t.index, steps=(len(world.events) - 1,) if world.events else ())

    def _safe_unsafe(self, world, t, prev, nxt, state, dep):
        key = ("order", prev, nxt, state)
        if key in self._reported:
            return
        self._reported.add(key)
        world.report(self.name,
                     f"{state}-safe -> {state}-unsafe lock order detected: {dep.task} took {nxt} "
                     f"while holding {prev} (run {dep.run}: {dep.action}); {prev} is used in "
                     f"{_CONTEXT[state]} and {nxt} is taken with {_ENABLED[state]}: a CPU "
                     f"holding {nxt} and interrupted by a handler waiting for {prev} deadlocks "
                     f"against the holder of {prev} waiting for {nxt}",
                     task=t.index, steps=(len(world.events) - 1,) if world.events else ())


def _safe_unsafe(usage, prev, nxt):
    """The interrupt state (HARDIRQ, SOFTIRQ) for which ``prev -> nxt`` goes from a safe
    class to an unsafe one, or None."""
    p, n = usage.get(prev, {}), usage.get(nxt, {})
    for state in (_HARD, _SOFT):
        if any(b[0] == state and b[1] for b in p) and any(b[0] == state and not b[1] for b in n):
            return state
    return None


def _where(use) -> str:
    return f"{use.task} took it (run {use.run}: {use.action})"


def _copy(merged) -> dict:
    return {"usage": {c: dict(b) for c, b in merged["usage"].items()}, "deps": dict(merged["deps"])}


def _tuple(schedule) -> tuple:
    return tuple(tuple(s) if isinstance(s, list) else s for s in schedule)
