"""Helpers for the model tests: run kernel functions alone and record what they did."""

from __future__ import annotations

import functools

from checker import label, Monitor, Program, Task, UsageError, explore
from checker.containers import peek
from checker import actions as A
from checker.monitor import REGISTRY, resolve
from model.scenarios import DEFAULT_POOL

LOCK_OPS = {A.ACQUIRE: "acquire", A.TRYLOCK: "trylock", A.RELEASE: "release"}


def available_properties() -> list:
    """Every registered property that loads (all of them once properties/ is complete)."""
    out = []
    for name in REGISTRY:
        try:
            resolve(name)
        except UsageError:
            continue
        out.append(name)
    return out


class Recorder(Monitor):
    """Keeps the events of the last execution as (task, op, lock class or object, detail)."""

    name = "recorder"

    def __init__(self):
        self.events = []
        self.labels = []

    def on_execution_start(self, world):
        self.events = []
        self.labels = []

    def on_event(self, world, ev):
        a = ev.action
        self.events.append(ev)
        if a.op == A.LABEL:
            self.labels.append((a.arg, a.arg2))

    def lock_steps(self, task=None):
        """The lock events, e.g. ``acquire pool->lock (R)``, ``trylock page lock -> False``."""
        out = []
        for ev in self.events:
            a = ev.action
            if a.op not in LOCK_OPS or (task is not None and ev.task != task):
                continue
            s = f"{LOCK_OPS[a.op]} {a.obj.cls}"
            if a.op != A.RELEASE and a.arg:
                s += " (R)"
            if a.op == A.TRYLOCK and ev.result is False:
                s += " -> False"
            out.append(s)
        return out


def run_alone(variant, body, pool=DEFAULT_POOL, pending=False, properties=True):
    """Run the generator function ``body(zs, handles)`` as the only task on one CPU.

    Returns ``(box, result, recorder)``; ``box`` holds the last execution's
    ``pool``, ``handles``, the task's version object ``zs`` and ``ret``
    (what ``body`` returned).
    """
    box = {}

    def task(zs, handles):
        # The body may look at the pool first: that must be a step of its own.
        yield label("run_alone")
        box["ret"] = yield from body(zs, handles)

    def build():
        boot = variant(tag="")
        p = boot.zs_create_pool(ncpus=1)
        handles = boot.populate([list(z) for z in pool])
        p.free_work.value = p.free_work.initial = pending
        zs = variant(p, 0, "t.")
        box.update(pool=p, handles=handles, zs=zs)
        return Program([Task(functools.partial(task, zs, handles), "t", 0, "test")], cpus=1, context=p)

    rec = Recorder()
    props = [rec] + (available_properties() if properties else [])
    result = explore(build, scheduler="dfs", properties=props)
    return box, result, rec


def zspages(pool, cls=0):
    """The class's zspages by name (task bodies use it to find build-time zspages:
    a lookup, unrecorded, as their behaviour does not depend on the list's order)."""
    return {z.name: z for z in peek(pool.size_class[cls].ghost_zspages)}
