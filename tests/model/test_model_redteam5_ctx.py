"""Red team, round 5 (execution context and lock semantics): tests/variants/redteam5_ctx/*.py.

Kernel patches written from zsmalloc-protocol.md on preemption, PREEMPT_RT lock types,
trylocks, lockdep annotations, lock order and interrupt context, each classified before
zsmc ran (the verdict is in its docstring).  What the round exposed, each with its mechanism
(README.md there has the table):

* malloc_rt_lock_page, v5_map_rt_alloc_under_local_lock: sleeping (lock_page, a GFP_KERNEL
  allocation) while holding a spinlock_t / local_lock_t passed on PREEMPT_RT -- the RT lock
  does not raise the preempt count, and sleep-in-atomic judged by the count alone.  On RT
  such a lock still forbids sleeping inside it (rcu_read_lock/migrate_disable; locktypes.rst
  nesting rules); only RT-lock nesting is allowed (properties/sleep_in_atomic.py).
* zsl_read_trylock_loop: a zspage reader taking zsl->lock in a trylock loop passed on RT --
  the engine lets a preempted holder run again whatever the spinner's priority, and
  writers-never-block's RT exemption assumed readers *block* on zsl->lock (with PI).  A
  preemptible task busy-waiting for a lock held by a task of its own CPU is now a livelock
  (properties/deadlock.py).
* v5_write_trylock_preempt_after_cmpxchg: a v5 writer preemptible between its cmpxchg and
  preempt_disable() passed on RT -- writers-never-block knew a writer only by the lockdep
  annotation, which came after.  The lock word's own hold is now checked on both sides of
  the annotation (properties/writers_never_block.py).
* free_cond_resched: a sleep in zs_free (after every lock is dropped) passed -- no scenario
  calls zs_free from atomic context, which zram does (§3).  The version names the functions
  its users may call atomically (``ATOMIC_CALLERS``); sleep-in-atomic judges them so.
* async_free_class_lock_under_read: a patch whose new helper ``lock_zspage_held`` was refused
  at load as a misspelt ``lock_zspage``, though its async_free_zspage calls it
  (model/registry.py: a method the variant's own code uses is a helper).
"""

from __future__ import annotations

import functools
import pathlib
import re

import pytest

from checker import Mutex, PageLock, Program, SpinLock, Task, explore, might_sleep
from checker.errors import UsageError
from model.registry import VERSIONS, load_variant, make_build
from model.variant_files import load_file

HERE = pathlib.Path(__file__).parent.parent / "variants" / "redteam5_ctx"

# file -> (scenario, cpus, config, properties any of which the violation may be)
FOUND = {
    "zsl_read_trylock_loop": ("up-read-migrate", 1, "rt", {"deadlock"}),
    "compact_rt_resched_under_locks": ("up-read-compact", 1, "rt", {"writers-never-block", "sleep-in-atomic"}),
    "malloc_rt_lock_page": ("malloc-free", 1, "rt", {"sleep-in-atomic"}),
    "v5_map_rt_alloc_under_local_lock": ("up-clients", 1, "rt", {"sleep-in-atomic"}),
    "v5_write_trylock_preempt_enable_early": ("up-read-migrate", 1, "default", {"writers-never-block"}),
    "v5_write_trylock_preempt_after_cmpxchg": ("up-read-migrate", 1, "rt", {"writers-never-block"}),
    "zsl_write_lockdep_blocking": ("up-read-compact", 1, "default", {"writers-never-block", "lock-order"}),
    "legacy_async_free_class_lock_under_read": ("free-deferred", 1, "default", {"lock-order", "deadlock"}),
    "legacy_migrate_write_trylock": ("read-migrate", 2, "default", {"bug"}),
    "legacy_unmap_local_unlock_first": ("up-clients", 1, "rt", {"data-integrity"}),
    "v5_unmap_local_unlock_first": ("up-clients", 1, "default", {"data-integrity"}),
    "v5_map_migrate_disable": ("up-clients", 1, "default", {"data-integrity"}),
    "free_cond_resched": ("malloc-free", 1, "default", {"sleep-in-atomic"}),
    "free_from_irq": ("free-migrate", 2, "default", {"irq-lock-state", "deadlock", "sleep-in-atomic"}),
    "legacy_map_from_irq": ("irq-read-migrate", 1, "default", {"irq-lock-state", "deadlock", "sleep-in-atomic"}),
}
# file -> ((scenario, configs) ...) that run the code it changes, explored on 1 and 2 CPUs
NOT_BUGS = {
    "zsl_write_spin_trylock": (("up-read-migrate", ("default", "rt")), ("compact-migrate", ("default", "rt"))),
    "migrate_unlock_lifo": (("up-read-migrate", ("default", "rt")), ("free-deferred", ("default",))),
    "async_free_class_lock_under_read": (("free-deferred", ("default", "rt")),),
    "legacy_compact_write_trylock": (("up-read-compact", ("default", "rt")), ("read-compact", ("default",))),
    "legacy_map_local_lock_first": (("up-clients", ("default", "rt")), ("read-migrate", ("default",))),
    "v5_map_preempt_disable": (("up-clients", ("default", "rt")), ("read-migrate", ("rt",))),
    "v5_write_unlock_release_last": (("up-read-migrate", ("default", "rt")), ("free-deferred", ("default",))),
    "v5_read_lock_preempt_disabled": (("up-read-migrate", ("default", "rt")), ("read-migrate", ("default",))),
    # RT-only bugs: no bug on !PREEMPT_RT
    "zsl_read_trylock_loop": (("up-read-migrate", ("default",)), ("free-deferred", ("default",))),
    "legacy_unmap_local_unlock_first": (("up-clients", ("default",)),),
    "v5_write_trylock_preempt_after_cmpxchg": (("up-read-migrate", ("default",)), ("read-compact", ("default",))),
    "malloc_rt_lock_page": (("malloc-free", ("default",)),),
    "v5_map_rt_alloc_under_local_lock": (("up-clients", ("default",)),),
}


def test_every_variant_file_is_classified():
    names = {p.stem for p in HERE.glob("*.py")}
    assert names == set(FOUND) | set(NOT_BUGS)


@functools.cache
def _variant(name):
    path = HERE / f"{name}.py"
    cls = re.findall(r"^class (\w+)", path.read_text(), re.MULTILINE)[-1]
    return getattr(load_file(str(path)), cls)


def _explore(cls, scenario, cpus, config):
    build, _ = make_build(cls, scenario, 1, cpus, config=None if config == "default" else config)
    return explore(build, stop_on_violation=True)


def _base(cls):
    return next(v for v in VERSIONS.values() if issubclass(cls, v))


@pytest.mark.parametrize("name", sorted(FOUND))
def test_redteam5_ctx_bug_is_found(name):
    scenario, cpus, config, props = FOUND[name]
    cls = _variant(name)
    r = _explore(cls, scenario, cpus, config)
    assert any(v.property in props for v in r.violations), [(v.property, v.message) for v in r.violations]
    base = _explore(_base(cls), scenario, cpus, config)
    assert base.complete and not base.violations, [v.message for v in base.violations]


@pytest.mark.parametrize("name", sorted(NOT_BUGS))
def test_redteam5_ctx_non_bug_passes(name):
    for scenario, configs in NOT_BUGS[name]:
        for config in configs:
            for cpus in (1, 2):
                r = _explore(_variant(name), scenario, cpus, config)
                assert r.complete and not r.violations, (scenario, cpus, config,
                                                         [v.message for v in r.violations])


# -- the mechanisms, on small programs ------------------------------------------------------------

def _one_task(body, config):
    def build():
        lk, inner = SpinLock("lk"), body[1]()

        def t():
            yield lk.acquire()
            yield from body[0](inner)
            yield lk.release()
        return Program([Task(t, "t", 0)], config=config)
    return build


def _take(lock):
    yield lock.acquire()
    yield lock.release()


def _sleep(_):
    yield might_sleep()


@pytest.mark.parametrize("body", [(_take, lambda: Mutex("m")), (_take, lambda: PageLock("p")),
                                  (_sleep, lambda: None)], ids=["mutex", "page lock", "might_sleep"])
@pytest.mark.parametrize("config", [None, "rt"])
def test_sleeping_inside_a_spinlock_t_is_reported_on_both_configurations(body, config):
    r = explore(_one_task(body, config), properties=["sleep-in-atomic"])
    [v] = r.violations
    assert v.property == "sleep-in-atomic" and "lk" in v.message


def test_an_rt_spinlock_nested_inside_another_is_fine_on_rt():
    r = explore(_one_task((_take, lambda: SpinLock("inner")), "rt"), properties=["sleep-in-atomic"])
    assert r.complete and not r.violations


def _trylock_loop(config, cpus):
    def build():
        lk = SpinLock("lk")

        def holder():
            yield lk.acquire()
            yield lk.release()

        def spinner():
            while not (yield lk.try_acquire()):
                pass
            yield lk.release()
        return Program([Task(holder, "holder", 0), Task(spinner, "spinner", cpus - 1)], cpus=cpus,
                       config=config)
    return build


def test_a_trylock_loop_on_a_preempted_holder_is_a_livelock_on_rt():
    r = explore(_trylock_loop("rt", 1), properties=["deadlock"])
    assert [v.property for v in r.violations] == ["deadlock"]
    assert "livelock" in r.violations[0].message and "holder" in r.violations[0].message


@pytest.mark.parametrize("config,cpus", [(None, 1), (None, 2), ("rt", 2)])
def test_a_trylock_loop_is_fine_where_the_holder_cannot_be_preempted_under_it(config, cpus):
    # !RT: the holder of a spinlock_t is atomic; two CPUs: the holder runs on its own.
    r = explore(_trylock_loop(config, cpus), properties=["deadlock"])
    assert r.complete and not r.violations


def test_the_versions_declare_zs_free_callable_from_atomic_context():
    for v in VERSIONS.values():
        assert "zs_free" in v.ATOMIC_CALLERS


def _write_variant(tmp_path, body):
    path = tmp_path / "patch.py"
    path.write_text("from model import Upstream\n\n\n" + body)
    return path


def test_a_helper_named_like_a_kernel_function_is_allowed_when_the_patch_calls_it(tmp_path):
    path = _write_variant(tmp_path, "class P(Upstream):\n"
                          "    def lock_zspage_held(self, zspage):\n"
                          "        yield from self.lock_zspage(zspage)\n"
                          "    def async_free_zspage(self):\n"
                          "        yield from Upstream.async_free_zspage(self)\n"
                          "        if False:\n"
                          "            yield from self.lock_zspage_held(None)\n")
    assert load_variant(f"{path}:P").__name__ == "P"


def test_an_uncalled_near_miss_is_still_refused(tmp_path):
    path = _write_variant(tmp_path, "class P(Upstream):\n"
                          "    def lock_zspage_held(self, zspage):\n"
                          "        yield from self.lock_zspage(zspage)\n")
    with pytest.raises(UsageError, match="lock_zspage_held is not a function of upstream"):
        load_variant(f"{path}:P")
