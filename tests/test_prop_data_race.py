"""``data-race``: a plain access after an action must be ordered with conflicting accesses.

Generic programs first (a lock orders the accesses, or nothing does), then the
zsmalloc model: a patch that drops a lock the kernel holds makes the race
visible at depth 1, and the three built-in versions have none.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from checker import Obj, Program, SpinLock, Task, Var, explore, label, shared_struct
from model.pool import ZS_OBJS_ALLOCATED
from model.registry import make_build
from model.scenarios import Scenario, TaskSpec, _client, build_program
from model.versions import VERSIONS, Upstream


@shared_struct(owner="obj")
@dataclass(slots=True, eq=False)
class Cell:
    obj: Obj
    x: int = 0


@shared_struct(owner="obj", atomic=("x",))
@dataclass(slots=True, eq=False)
class MarkedCell:
    """A cell whose field the kernel only accesses marked (READ_ONCE/WRITE_ONCE, atomic_t)."""

    obj: Obj
    x: int = 0


def program(reader_locks: bool, writer_locks: bool = True, declared: bool = False, marked: bool = False,
            marking=None):
    """``marking``: the declared accesses' ``marked=`` (None: a file's bare ``access()``)."""
    def build():
        c = (MarkedCell if marked else Cell)(Obj("cell"))
        lk = SpinLock("l")
        seen = []

        def writer():
            if declared:
                yield c.obj.access(write=True, marked=marking)
                c.x = 1
            elif writer_locks:
                yield lk.acquire()
                c.x = 1
                yield lk.release()
            else:
                yield label("w")
                c.x = 1

        def reader():
            if reader_locks:
                yield lk.acquire()
                seen.append(c.x)
                yield lk.release()
            elif declared:
                yield c.obj.access(marked=marking)    # the read is a step of its own
                seen.append(c.x)
            else:
                yield label("r")
                seen.append(c.x)

        return Program([Task(writer, "writer"), Task(reader, "reader")], observe=lambda: tuple(seen))
    return build


@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_a_read_without_the_writers_lock_is_a_data_race(scheduler):
    r = explore(program(reader_locks=False), scheduler=scheduler, properties=["data-race"])
    assert r.violations, r
    v = r.violations[0]
    assert v.property == "data-race"
    assert "data race on Cell.x" in v.message and "in reader" in v.message
    assert len(v.involved) == 2


@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_accesses_under_one_lock_are_no_data_race(scheduler):
    r = explore(program(reader_locks=True), scheduler=scheduler, properties=["data-race"])
    assert r.complete and not r.violations and r.outcomes == {(0,), (1,)}


@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_declared_accesses_of_a_plain_field_without_a_lock_are_a_data_race(scheduler):
    # An access() is where another task may run, and the search runs both orders of
    # two of them; it synchronises nothing, so two plain accesses after them are the
    # race KCSAN would report.
    r = explore(program(reader_locks=False, declared=True, marking=False), scheduler=scheduler,
                properties=["data-race"])
    assert [v.property for v in r.violations] == ["data-race"]
    assert "data race on Cell.x" in r.violations[0].message
    assert "both are declared" in r.violations[0].message


@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_declared_accesses_of_a_marked_field_are_no_data_race_and_run_both_orders(scheduler):
    # READ_ONCE/WRITE_ONCE: the field is atomic=, each access a step of its own.
    r = explore(program(reader_locks=False, declared=True, marked=True), scheduler=scheduler,
                properties=["data-race"])
    assert r.complete and not r.violations and r.outcomes == {(0,), (1,)}


@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_bare_declared_accesses_as_written_before_marking_are_no_data_race(scheduler):
    # A file written when docs/model.md said a lockless READ_ONCE is `yield obj.access()`:
    # the bare read is marked, the bare write plain, and a marked read against a plain
    # write is no race (KCSAN_ASSUME_PLAIN_WRITES_ATOMIC); both orders are run.
    r = explore(program(reader_locks=False, declared=True), scheduler=scheduler,
                properties=["data-race"])
    assert r.complete and not r.violations and r.outcomes == {(0,), (1,)}


def test_an_unchecked_race_of_declared_accesses_leaves_the_search_complete():
    # Both accesses are in the search's footprints: it ran both orders, so a race it
    # was not asked to report is no gap in what it explored.
    r = explore(program(reader_locks=False, declared=True, marking=False), properties=["deadlock"])
    assert r.complete and not r.violations and r.outcomes == {(0,), (1,)}


def test_a_marked_read_against_a_plain_write_under_a_lock_races():
    # KCSAN's rule: a READ_ONCE does not make a plain write elsewhere safe.
    def build():
        c = Cell(Obj("cell"))
        lk = SpinLock("l")

        def writer():
            yield lk.acquire()
            c.x = 1
            yield lk.release()

        def reader():
            yield c.obj.access()
            return c.x

        return Program([Task(writer, "writer"), Task(reader, "reader")])

    r = explore(build, properties=["data-race"])
    msg = r.violations[0].message if r.violations else ""
    assert "reader reads it at access(cell, read), unordered with writer's write in writer" in msg
    assert "make writer's access in writer a step of its own" in msg


def test_two_unlocked_writers_race():
    def build():
        c = Cell(Obj("cell"))

        def w(v):
            def run():
                yield label("w")
                c.x = v
            return run

        return Program([Task(w(1), "A"), Task(w(2), "B")])

    r = explore(build, properties=["data-race"])
    assert r.violations and "A" in r.violations[0].message and "B" in r.violations[0].message


def test_release_then_read_orders_through_an_atomic_variable():
    # Message passing through a Var: the flag's write and read order the data.
    def build():
        c = Cell(Obj("cell"))
        flag = Var("flag", 0)
        seen = []

        def producer():
            yield label("p")
            c.x = 5
            yield flag.write(1)

        def consumer():
            if (yield flag.read()):
                seen.append(c.x)

        return Program([Task(producer, "P"), Task(consumer, "C")], observe=lambda: tuple(seen))

    r = explore(build, properties=["data-race"])
    assert r.complete and not r.violations and r.outcomes == {(), (5,)}


def _peek_after_own_update(put: bool):
    """Two tasks update one counter with commuting operations (additions, or puts of a
    refcount); one then reads what it updated with plain code.  Its own update orders
    nothing: the other task's commutes with it, so the read sees 1 or 2 (a counter), or
    the object freed or not (a refcount) depending on an order no footprint fixes."""
    def build():
        cell = Cell(Obj("cell"))
        ref = Var("ref", 2, counter=True)
        seen = []

        def update():
            if put:
                yield ref.add(-1, frees=cell.obj)
            else:
                yield ref.add(1)

        def peeker():
            yield from update()
            seen.append(cell.x if put else ref.value)

        return Program([Task(peeker, "peeker"), Task(update, "other")],
                       observe=lambda: tuple(seen))
    return build


@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_reading_a_counter_after_ones_own_addition_races_with_the_others(scheduler):
    # Found by the dpor/dfs differential: dpor ran one order (the additions commute)
    # and saw one value, dfs saw two, and neither reported anything.
    r = explore(_peek_after_own_update(put=False), scheduler=scheduler, properties=["data-race"],
                stop_on_violation=False)
    assert r.violations and "data race on ref" in r.violations[0].message
    assert "unordered with peeker's read" in r.violations[0].message or \
        "peeker reads it" in r.violations[0].message


@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_using_an_object_after_ones_own_put_is_a_use_after_free_in_some_order(scheduler):
    r = explore(_peek_after_own_update(put=True), scheduler=scheduler,
                properties=["no-free-while-mapped"], stop_on_violation=False)
    assert r.violations and "use after free" in r.violations[0].message


def test_a_read_after_ones_own_read_is_still_ordered_by_it():
    # The rule is only for commuting updates: a plain read after a yielded read of one
    # variable stands at that read, which every write of the variable is ordered with.
    def build():
        v = Var("v", 0)
        seen = []

        def reader():
            yield v.read()
            seen.append(v.value)

        def writer():
            yield v.write(1)

        return Program([Task(reader, "reader"), Task(writer, "writer")], observe=lambda: tuple(seen))

    for sched in ("dfs", "dpor"):
        r = explore(build, scheduler=sched, properties=["data-race"])
        assert r.complete and not r.violations and r.outcomes == {(0,), (1,)}


def _around_reading_sections():
    """t0 writes a field, then reads a guarded counter under its lock; t1 reads the
    counter under the lock, then the field.  In the order t0's section first, the
    lock's release and acquire order the two accesses; the search takes the two
    read-only sections to commute (guarded sections: each found the lock free and
    left it free), so the other order, where nothing does, is the same trace."""
    def build():
        cell = Cell(Obj("cell"))
        g = SpinLock("g")
        gv = Var("gv", 0, counter=True, guard=g)

        def t0():
            yield label("start")
            cell.x = 1
            yield g.acquire()
            yield gv.read()
            yield g.release()

        def t1():
            yield g.acquire()
            yield gv.read()
            yield g.release()
            _ = cell.x

        return Program([Task(t0, "t0"), Task(t1, "t1")])
    return build


@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_sections_that_commute_for_the_search_order_no_plain_access(scheduler):
    # Found by the dpor/dfs differential: dpor ran one order and its race detector
    # took the lock's release-acquire as an order the search itself does not keep.
    r = explore(_around_reading_sections(), scheduler=scheduler, properties=["data-race"],
                stop_on_violation=False)
    assert r.violations and "data race on Cell.x" in r.violations[0].message


# -- the zsmalloc model --------------------------------------------------------------------

class FreeWithoutPageLocks(Upstream):
    """``free_zspage``/``__free_zspage`` that no longer take or check the page locks
    (the variant of issue 11: dpor said "complete, no violation" on it)."""

    def free_zspage(self, cls, zspage):
        yield zspage.obj.access(marked=False)
        yield from self.remove_zspage(cls, zspage)
        yield from self._free_zspage(cls, zspage)

    def _free_zspage(self, cls, zspage):
        yield zspage.obj.access(marked=False)
        page = zspage.first
        while page is not None:
            yield page.desc.access(marked=False)
            nxt = page.next
            yield from self.reset_zpdesc(page)
            yield from self.zpdesc_put(page)
            page = nxt
        yield from self.cache_free_zspage(zspage)
        yield from self.class_stat_sub(cls, ZS_OBJS_ALLOCATED, cls.objs_per_zspage)
        if zspage in cls.ghost_zspages:
            cls.ghost_zspages.remove(zspage)
        self.pool.pages_allocated -= cls.pages_per_zspage


FREE_VS_MIGRATE = Scenario(
    "free-vs-migrate", "a client frees the last object of a zspage; migration of its first page",
    2, 2, (_client(ops=("free",)), TaskSpec("migration", "migration", 1, targets=("zs2.p0",))),
    pool=(("x.b", None), (None, "c0.a")), free_work_pending=False, default=False)


def test_freeing_without_page_locks_is_found_by_dpor_at_depth_1():
    r = explore(lambda: build_program(FreeWithoutPageLocks, FREE_VS_MIGRATE, 1, 2))
    assert r.violations, "dpor must not call this variant clean"
    v = r.violations[0]
    assert v.property == "data-race"
    # reset_zpdesc's clearing of the zspage pointer, unlocked, against the migration's
    # get_zspage under the page lock the free no longer takes.
    assert "data race on Page.zspage" in v.message and "unordered with migration's read" in v.message
    # Sampling meets the use after free the race allows (the search orders the
    # actions only; the race is what says the plain accesses need more).
    rnd = explore(lambda: build_program(FreeWithoutPageLocks, FREE_VS_MIGRATE, 1, 2),
                  scheduler="random", max_executions=200, stop_on_violation=False)
    assert {"data-race", "no-free-while-mapped"} & {v.property for v in rnd.violations}


def test_the_base_version_is_clean_on_the_same_scenario():
    r = explore(lambda: build_program(Upstream, FREE_VS_MIGRATE, 1, 2), stop_on_violation=False)
    assert r.complete and not r.violations


@pytest.mark.parametrize("version", sorted(VERSIONS))
@pytest.mark.parametrize("scenario", ["read-migrate", "free-deferred", "read-compact", "up-read-migrate"])
def test_the_versions_have_no_data_race(version, scenario):
    build, _ = make_build(VERSIONS[version], scenario, 1)
    r = explore(build, properties=["data-race"], stop_on_violation=False)
    assert r.complete and not r.violations, r.violations[:1]


# -- tasks sharing a CPU: what orders them, and what does not --------------------------------

def one_cpu(first_in_section: bool, declared: bool = False, marked: bool = False, marking=False):
    """Two tasks of one CPU.  The writer's store is in a preempt-disabled section
    (per-CPU data) or after a preemptible step (a mutex: the other task may run
    in between); ``declared``: both sides announce their access (an action of its
    own, plain unless ``marking``); ``marked``: the field is atomic (READ_ONCE /
    WRITE_ONCE)."""
    from checker import Mutex, preempt_disable, preempt_enable

    def build():
        c = (MarkedCell if marked else Cell)(Obj("cell"))
        m = Mutex("m")
        seen = []

        def writer():
            if first_in_section:
                yield preempt_disable()
                if declared:
                    yield c.obj.access(write=True, marked=marking)
                c.x = 1
                yield preempt_enable()
            else:
                yield m.acquire()
                c.x = 1
                yield m.release()

        def reader():
            yield preempt_disable()
            if declared:
                yield c.obj.access(marked=marking)
            seen.append(c.x)
            yield preempt_enable()

        return Program([Task(writer, "writer", cpu=0), Task(reader, "reader", cpu=0)], cpus=1,
                       observe=lambda: tuple(seen))
    return build


@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_per_cpu_data_under_preempt_disable_is_declared_or_a_race(scheduler):
    # Two sections of one CPU are one step each for the search, ordered only by
    # what their actions touch: plain per-CPU data in them is a race (found by
    # bench/fuzz_dpor.py seed 52, program 155: ordered by the CPU alone, dpor ran
    # one order and missed the other's outcome); declared, both orders are run, and
    # marked (the field atomic) it is no race.  Declared but plain it still is one: a
    # declaration orders nothing.
    r = explore(one_cpu(True), scheduler=scheduler, properties=["data-race"], stop_on_violation=False)
    assert [v.property for v in r.violations][:1] == ["data-race"]
    r = explore(one_cpu(True, declared=True, marked=True), scheduler=scheduler,
                properties=["data-race"], stop_on_violation=False)
    assert r.complete and not r.violations and len(r.outcomes) == 2     # the reader sees 0 or 1
    r = explore(one_cpu(True, declared=True), scheduler=scheduler, properties=["data-race"],
                stop_on_violation=False)
    assert [v.property for v in r.violations][:1] == ["data-race"]


@pytest.mark.parametrize("scheduler", ["dfs", "dpor"])
def test_a_preemptible_store_is_no_order_for_a_section_of_its_cpu(scheduler):
    # Found by bench/fuzz_dpor.py (seed 52): the race detector ordered a task's
    # preemptible step before the next atomic section of its CPU; dfs reached an
    # execution where it was not, while dpor, whose section is one step, met
    # only one where it was.  A race must not depend on which execution of a
    # trace was run.
    r = explore(one_cpu(False), scheduler=scheduler, properties=["data-race"], stop_on_violation=False)
    assert [v.property for v in r.violations][:1] == ["data-race"]


def test_two_sections_of_one_cpu_on_plain_data_are_a_race_in_both_searches():
    from bench.fuzz_dpor import mkbuild
    spec = {"tasks": [([("ptry", 0, "b", 1)], 0), ([("ptry", 1, "b", 0)], 0)],
            "ncpu": 1, "nvars": 1, "lockkinds": ["rw", "spin"]}
    for scheduler in ("dfs", "dpor"):
        r = explore(mkbuild(spec), scheduler=scheduler, properties=[], stop_on_violation=False)
        assert r.races and not r.complete and "data race" in r.reason, scheduler


def test_the_fuzzers_program_reports_the_race_in_both_searches():
    from bench.fuzz_dpor import mkbuild
    spec = {"tasks": [([("plock", 0, "b", 1), ("plock", 1, "b", 2)], 0),
                      ([("pr", "a", 2), ("sleep",), ("pr", "a", 0), ("plock", 0, "b", 3)], 0)],
            "ncpu": 1, "nvars": 2, "lockkinds": ["spin", "mutex"]}
    for scheduler in ("dfs", "dpor"):
        r = explore(mkbuild(spec), scheduler=scheduler, properties=["data-race"], stop_on_violation=False)
        assert any(v.property == "data-race" for v in r.violations), scheduler


@pytest.mark.parametrize("properties", [None, ["data-race"], ["data-race", "deadlock"]])
def test_a_split_search_reports_a_data_race_as_the_serial_one_does(properties):
    # The split search (zsmc check's, whatever --jobs) hands its subtrees monitor
    # objects; given those alone, explore reported under their names only, so a
    # race in a subtree made the search "incomplete" with no violation.
    from checker.parallel import explore_split, run_job, split
    build = program(reader_locks=False)
    serial = explore(build, properties=properties)
    assert [v.property for v in serial.violations] == ["data-race"]
    whole = explore_split(build, jobs=1, properties=properties)
    assert "data-race" in {v.property for v in whole.violations}, whole.reason
    for job in split(build, 1):
        r, _, _ = run_job(build, job, properties=properties)
        assert r.complete or r.violations, r.reason


def test_a_split_search_leaves_an_unselected_race_unreported_and_says_incomplete():
    from checker.parallel import explore_split
    whole = explore_split(program(reader_locks=False), jobs=1, properties=["deadlock"])
    assert not whole.violations and not whole.complete and "data race" in whole.reason
