"""A patch's changed statements are recorded as they run, so a check whose changed
branch never ran is not a pass even though its function ran (model.line_coverage)."""

from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner

import cli
from checker import explore
from model import line_coverage
from model.coverage import instrumented, lines_never_ran
from model.registry import make_build
from model.versions import Upstream

# free_zspage as upstream has it, with one statement added on the path where
# trylock_zspage fails (migration holds a page lock): only scenarios with a
# migration take it.
_KICK = "yield from self.kick_deferred_free()"


def _kick_twice():
    import inspect
    body = textwrap.dedent(inspect.getsource(Upstream.free_zspage))
    assert _KICK in body
    indent = body.split(_KICK)[0].rsplit("\n", 1)[1]
    body = body.replace(_KICK, f"{_KICK}\n{indent}yield label(\"patched: kick again\")", 1)
    head = "from checker import Bug, label\nfrom model import Upstream\n\n\nclass KickTwice(Upstream):\n"
    source = head + textwrap.indent(body, "    ")
    line = source.splitlines().index(f"    {indent}yield label(\"patched: kick again\")") + 1
    return source, line


KICK_TWICE, KICK_LINE = _kick_twice()


def load(tmp_path, source, name="KickTwice"):
    path = tmp_path / "patch.py"
    path.write_text(textwrap.dedent(source))
    return path, f"{path}:{name}"


def check(*args):
    res = CliRunner().invoke(cli.main, ["check", *args, "--no-minimize"])
    return res


def test_a_changed_branch_never_taken_is_not_a_pass(tmp_path):
    path, spec = load(tmp_path, KICK_TWICE)
    res = check("--variant", spec, "--scenario", "up-read-compact", "--out", str(tmp_path / "t"))
    assert res.exit_code == 5, res.output
    assert "result: NOT A PASS" in res.output
    assert "never ran: 1 changed line(s) of free_zspage;" in res.output
    assert f'patch.py:{KICK_LINE}: yield label("patched: kick again")' in res.output
    res = check("--variant", spec, "--scenario", "up-read-compact", "--format", "json",
                "--out", str(tmp_path / "t"))
    doc = json.loads(res.stdout)
    assert doc["status"] == "not a pass"
    assert [(e["function"], e["lines"]) for e in doc["never_ran"]] == [("free_zspage", [KICK_LINE])]


def test_the_same_patch_passes_where_its_branch_runs(tmp_path):
    path, spec = load(tmp_path, KICK_TWICE)
    res = check("--variant", spec, "--scenario", "read-migrate", "--out", str(tmp_path / "t"))
    assert res.exit_code == 0, res.output
    assert "result: pass" in res.output


def test_only_the_changed_statements_are_recorded(tmp_path):
    path, _ = load(tmp_path, KICK_TWICE)
    from model.registry import load_variant
    cls = load_variant(f"{path}:KickTwice")
    assert instrumented(cls).__zsmc_lines__ == {"free_zspage": [KICK_LINE]}


class Reworded(Upstream):
    """zs_free with a removed statement (the label) and one rewritten, doing the same."""

    def zs_free(self, handle):
        pool = self.pool
        yield pool.lock.acquire(shared=True)
        obj = yield from self.handle_to_obj(handle)
        if not obj:
            raise AssertionError("no location")
        zspage = yield from self.get_zspage(self.obj_to_zpdesc(obj))
        cls = zspage.cls
        yield cls.lock.acquire()
        yield pool.lock.release()
        yield from self.class_stat_sub(cls, 2, 1)
        yield from self.obj_free(cls, obj)
        fullness = yield from self.fix_fullness_group(cls, zspage)
        if fullness == 0:
            yield from self.free_zspage(cls, zspage)
        yield cls.lock.release()
        yield from self.cache_free_handle(handle)


IF_LINE = Reworded.zs_free.__code__.co_firstlineno + 13


def test_a_deleted_statement_is_marked_at_the_one_that_follows_it():
    node, stmts, start = line_coverage.changed_statements(Reworded.zs_free, Upstream.zs_free)
    texts = [line_coverage.source_line(Reworded.zs_free, s.lineno + start - 1) for s in stmts]
    # the docstring and label("zs_free") are gone; the Bug became an AssertionError;
    # the constants are spelt as numbers
    assert "obj = yield from self.handle_to_obj(handle)" in texts
    assert 'raise AssertionError("no location")' not in texts      # never asked to run
    assert "yield from self.class_stat_sub(cls, 2, 1)" in texts
    assert "if fullness == 0:" in texts
    assert "yield cls.lock.release()" not in texts and "yield from self.obj_free(cls, obj)" not in texts


@pytest.mark.parametrize("scenario", ["clients", "free-migrate"])
def test_recording_lines_changes_no_count(scenario):
    # The recording call yields nothing: the same steps, the same executions
    # as the uninstrumented code (its lines left out of the comparison).
    built = make_build(Reworded, scenario, 1)[0]
    r = explore(built, properties=[])
    changed = instrumented(Reworded).__zsmc_lines__["zs_free"]
    # Every changed statement ran; the reworded condition (``fullness == 0``) went
    # one way only in each scenario (in ``clients`` no zs_free empties its zspage,
    # in ``free-migrate`` each does), which is reported as the changed branch never
    # taken, as for any changed decision: whether a rewording is equivalent is not
    # something the check can know.
    assert changed
    went = scenario == "free-migrate"
    assert lines_never_ran(Reworded, r.coverage) == [
        ("zs_free", [(f"{IF_LINE}:{int(not went)}",
                      f"test_model_line_coverage.py:{IF_LINE}: if fullness == 0: "
                      f"(its condition was never {'false' if went else 'true'})")])]
    ref = explore(make_build(Upstream, scenario, 1)[0], properties=[])
    assert (r.executions, r.redundant, r.complete) == (ref.executions, ref.redundant, ref.complete)


def test_a_function_without_source_keeps_function_coverage():
    scope = {"Upstream": Upstream}
    exec("class NoSource(Upstream):\n"
         "    def alloc_zspage(self, cls):\n"
         "        return (yield from super().alloc_zspage(cls))\n", scope)
    cls = scope["NoSource"]
    assert instrumented(cls).__zsmc_lines__ == {"alloc_zspage": "its source cannot be read"}
    r = explore(make_build(cls, "malloc-free", 1)[0], properties=[])
    assert r.complete and r.coverage.get("fn:alloc_zspage") and not lines_never_ran(cls, r.coverage)


def test_the_recompiled_function_keeps_its_lines_and_name(tmp_path):
    # Tracebacks, the watchdog's "in Bad.zs_free (bad.py:7)" and traces name
    # the user's lines: the recording calls take their statement's line.
    path, _ = load(tmp_path, KICK_TWICE)
    from model.registry import load_variant
    cls = load_variant(f"{path}:KickTwice")
    raw = cls.__dict__["free_zspage"]
    new = instrumented(cls).__dict__["free_zspage"].__wrapped__
    assert new is not raw and new.__code__.co_qualname == raw.__code__.co_qualname
    lines = {n for _, _, n in new.__code__.co_lines() if n is not None}
    assert lines == {n for _, _, n in raw.__code__.co_lines() if n is not None}


PLAIN = '''
from model import Upstream


class Contended(Upstream):
    def rwlock_is_contended(self, lock) -> bool:
        return bool(lock is None)


class LockInit(Upstream):
    def zspage_lock_init(self, zspage):
        assert zspage.name
        super().zspage_lock_init(zspage)
'''


def test_a_changed_plain_function_never_called_is_not_a_pass(tmp_path):
    # rwlock_is_contended takes no step of its own; only compaction calls it.
    path, spec = load(tmp_path, PLAIN, "Contended")
    res = check("--variant", spec, "--scenario", "clients", "--out", str(tmp_path / "t"))
    assert res.exit_code == 5, res.output
    assert "never ran: 1 changed line(s) of rwlock_is_contended;" in res.output
    # Only the sampled `large` pool fills a destination partly (the compaction
    # loop's second source); no default scenario asks whether the pool lock
    # is contended, which this check now says instead of passing.
    from model.registry import load_variant
    cls = load_variant(spec)
    assert lines_never_ran(cls, explore(make_build(cls, "read-compact", 1)[0], properties=[]).coverage)
    r = explore(make_build(cls, "large", 1, 2)[0], properties=[], max_executions=100)
    assert not lines_never_ran(cls, r.coverage)


def test_a_changed_function_that_runs_while_the_pool_is_built_ran(tmp_path):
    # zspage_lock_init runs when the scenario's pool is made, before any task.
    path, spec = load(tmp_path, PLAIN, "LockInit")
    res = check("--variant", spec, "--scenario", "clients", "--out", str(tmp_path / "t"))
    assert res.exit_code == 0, res.output
    from model.registry import load_variant
    cls = load_variant(spec)
    r = explore(make_build(cls, "clients", 1)[0], properties=[])
    assert set(line_coverage.ran_lines(r.coverage, "zspage_lock_init")) \
        == set(instrumented(cls).__zsmc_lines__["zspage_lock_init"])


def test_a_method_calling_a_global_of_its_own_name_still_calls_the_global():
    # Fullness.get_fullness_group calls model.pool.get_fullness_group: made
    # inside a maker under its own name, the method found itself instead.
    from model.coverage import every_line
    cls = every_line(Upstream)
    assert "get_fullness_group" in cls.__zsmc_every_line__
    assert cls.get_fullness_group.__name__ == "get_fullness_group"
    r = explore(make_build(cls, "read-compact", 1)[0], properties=[])
    ref = explore(make_build(Upstream, "read-compact", 1)[0], properties=[])
    assert r.complete and (r.executions, r.outcomes) == (ref.executions, ref.outcomes)


class Unreachable(Upstream):
    """Statements after a return, raise, break or continue of their block cannot
    run: ``return`` then ``yield`` is how a generator method becomes a no-op."""

    def zspage_read_lock(self, zspage):
        return
        yield

    def zs_free(self, handle):
        for _ in range(2):
            if handle:
                break
                yield "after break"
            continue
            yield "after continue"
        yield "runs"


def test_a_statement_after_a_return_break_or_continue_is_not_asked_to_run():
    def texts(fn, base):
        node, stmts, start = line_coverage.changed_statements(fn, base)
        return [line_coverage.source_line(fn, s.lineno + start - 1) for s in stmts]
    assert texts(Unreachable.zspage_read_lock, Upstream.zspage_read_lock) == ["return"]
    changed = texts(Unreachable.zs_free, Upstream.zs_free)
    assert "break" in changed and "continue" in changed and 'yield "runs"' in changed
    assert not [t for t in changed if "after" in t]


def test_a_no_op_generator_is_not_reported_as_never_run(tmp_path):
    # The empty-generator idiom in a buggy patch: the violation is the report; a
    # `yield` no one can reach is not "never ran" (and no search for a scenario
    # that runs it follows).
    path, spec = load(tmp_path, '''
        from model import Upstream

        class NoReadLock(Upstream):
            def zspage_read_lock(self, zspage):
                return
                yield

            def zspage_read_unlock(self, zspage):
                if False:
                    yield
        ''', "NoReadLock")
    res = check("--variant", spec, "--scenario", "smoke", "--out", str(tmp_path / "t"))
    assert res.exit_code == 1, res.output
    # Since a declared access orders nothing, the reads the missing read lock left
    # unordered with migration's writes may be reported first, as the data race they are.
    assert ("violation of no-free-while-mapped" in res.output
            or "violation of data-race" in res.output), res.output
    assert "never ran" not in res.output


class OneWay(Upstream):
    """fix_fullness_group that also keeps the zspage where it is when it holds more than
    seven objects: a changed condition whose new way no scenario takes."""

    def fix_fullness_group(self, cls, zspage):
        yield zspage.obj.access()
        newfg = self.get_fullness_group(cls, zspage)
        if newfg == zspage.fullness or zspage.inuse > 7:
            return newfg
        yield from self.remove_zspage(cls, zspage)
        yield from self.insert_zspage(cls, zspage, newfg)
        return newfg


def test_a_changed_condition_that_always_went_one_way_is_reported():
    """The statement ran, so line coverage alone said the change ran; the branch it
    changes (``inuse > 7``: keep the zspage where it is) never did."""
    r = explore(make_build(OneWay, "malloc-free", 1)[0], properties=[])
    line = OneWay.fix_fullness_group.__code__.co_firstlineno + 3
    assert r.complete and f"ln:fix_fullness_group:{line}" in r.coverage
    got = lines_never_ran(OneWay, r.coverage)
    assert [(fn, [k for k, _ in entries]) for fn, entries in got] == \
        [("fix_fullness_group", [f"{line}:1", f"{line}:b0", f"{line}:c1:1", f"{line}:c2:1"])]
    assert got[0][1][0][1].endswith("(its condition was never true)")
    assert got[0][1][3][1].endswith("(its operand `zspage.inuse > 7` was never true)")
    assert "its comparison `zspage.inuse > 7` never ran with both sides equal" in got[0][1][1][1]
    # The recording returns the condition's value: the same executions.
    ref = explore(make_build(Upstream, "malloc-free", 1)[0], properties=[])
    assert (r.executions, r.redundant) == (ref.executions, ref.redundant)


class OneOperand(Upstream):
    """Reworded's zs_free freeing an empty zspage only while it holds at most seven
    objects: the decision goes both ways, its new operand only one (red team round 4: a
    batch limit ``while work and n < 32`` that no scenario reaches)."""

    def zs_free(self, handle):
        pool = self.pool
        yield pool.lock.acquire(shared=True)
        obj = yield from self.handle_to_obj(handle)
        if not obj:
            raise AssertionError("no location")
        zspage = yield from self.get_zspage(self.obj_to_zpdesc(obj))
        cls = zspage.cls
        yield cls.lock.acquire()
        yield pool.lock.release()
        yield from self.class_stat_sub(cls, 2, 1)
        yield from self.obj_free(cls, obj)
        fullness = yield from self.fix_fullness_group(cls, zspage)
        if fullness == 0 and cls.objs_per_zspage <= 7:
            yield from self.free_zspage(cls, zspage)
        yield cls.lock.release()
        yield from self.cache_free_handle(handle)


def test_an_operand_that_always_went_one_way_is_reported():
    total = {}
    for scen in ("clients", "free-migrate"):
        r = explore(make_build(OneOperand, scen, 1)[0], properties=[])
        for k, n in r.coverage.items():
            total[k] = total.get(k, 0) + n
    line = OneOperand.zs_free.__code__.co_firstlineno + 13
    assert {f"ln:zs_free:{line}:1", f"ln:zs_free:{line}:0"} <= total.keys()
    [(fn, entries)] = lines_never_ran(OneOperand, total)
    assert fn == "zs_free" and [k for k, _ in entries] == [f"{line}:b0", f"{line}:c2:0"]
    assert entries[1][1].endswith("(its operand `cls.objs_per_zspage <= 7` was never false)")


def test_a_changed_condition_taken_both_ways_is_not_reported():
    """Reworded's condition went one way in each scenario, both ways over the two:
    a check runs a set of scenarios, and it is judged over the set."""
    total = {}
    for scen in ("clients", "free-migrate"):
        r = explore(make_build(Reworded, scen, 1)[0], properties=[])
        for k, n in r.coverage.items():
            total[k] = total.get(k, 0) + n
    assert {f"ln:zs_free:{IF_LINE}:1", f"ln:zs_free:{IF_LINE}:0"} <= total.keys()
    assert not lines_never_ran(Reworded, total)


def test_a_condition_that_yields_is_recorded_with_its_value():
    """``if (yield lk.try_acquire()):``: the wrapped test still sends the trylock's
    result to the task, once."""
    from checker import Program, Task, SpinLock
    from model import line_coverage as lc

    def body(lk, out):
        if (yield lk.try_acquire()):
            out.append("got")
            yield lk.release()
        else:
            out.append("busy")

    new, lines = lc.instrument(body, "body", None)
    assert new.__zsmc_decisions__ == [body.__code__.co_firstlineno + 1]
    seen = []

    def build():
        lk = SpinLock("l")
        out1, out2 = [], []
        seen.append((out1, out2))
        def a():
            yield from new(lk, out1)

        def b():
            yield from new(lk, out2)

        return Program([Task(a, "A"), Task(b, "B")],
                       observe=lambda: (tuple(out1), tuple(out2)))

    r = explore(build)
    assert r.outcomes == {(("got",), ("got",)), (("got",), ("busy",)), (("busy",), ("got",))}
    line = body.__code__.co_firstlineno + 1
    assert {f"ln:body:{line}:1", f"ln:body:{line}:0"} <= r.coverage.keys()


# -- a new comparison at its boundary ------------------------------------------------------
def _can_compact(cond: str, name: str):
    """Upstream's zs_can_compact with its test ``allocated <= used`` replaced by ``cond``."""
    src = textwrap.dedent(f"""
        from model import Upstream
        from model.pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE


        class {name}(Upstream):
            def zs_can_compact(self, cls):
                yield cls.obj.access()
                allocated = cls.stats[ZS_OBJS_ALLOCATED]
                used = cls.stats[ZS_OBJS_INUSE]
                if {cond}:
                    return 0
                return (allocated - used) // cls.objs_per_zspage * cls.pages_per_zspage
        """)
    return src


COMPACTIONS = ("read-compact", "compact-compact", "compact-partial", "compact-wide")


def _load_class(tmp_path, cond, name, source=None):
    from model.variant_files import load_file
    path, _ = load(tmp_path, source or _can_compact(cond, name), name)
    return getattr(load_file(str(path)), name)


def _can_compact_expression(cond: str, name: str):
    """zs_can_compact in one return statement, its test ``cond`` in an expression."""
    return textwrap.dedent(f"""
        from model import Upstream
        from model.pool import ZS_OBJS_ALLOCATED, ZS_OBJS_INUSE


        class {name}(Upstream):
            def zs_can_compact(self, cls):
                yield cls.obj.access()
                allocated = cls.stats[ZS_OBJS_ALLOCATED]
                used = cls.stats[ZS_OBJS_INUSE]
                return ((allocated - used) // cls.objs_per_zspage * cls.pages_per_zspage
                        if {cond} else 0)
        """)


def _compaction_coverage(cls):
    total = {}
    for scen in COMPACTIONS:
        for cpus in (1, 2):
            r = explore(make_build(cls, scen, 1, cpus)[0], properties=[])
            assert r.complete
            for k, n in r.coverage.items():
                total[k] = total.get(k, 0) + n
    return total


def test_a_new_comparison_never_run_with_equal_sides_is_reported(tmp_path):
    """``allocated >= 5`` goes both ways in the compaction scenarios, never with five
    objects allocated: ``>= 5`` and ``> 5`` would pass alike."""
    cls = _load_class(tmp_path, "allocated >= 5", "AtLeastFive")
    total = _compaction_coverage(cls)
    line = cls.zs_can_compact.__code__.co_firstlineno + 4
    assert {f"ln:zs_can_compact:{line}:0", f"ln:zs_can_compact:{line}:1"} <= total.keys()
    [(fn, entries)] = lines_never_ran(cls, total)
    assert fn == "zs_can_compact" and [k for k, _ in entries] == [f"{line}:b0"]
    assert entries[0][1].endswith("(its comparison `allocated >= 5` never ran with both sides "
                                  "equal, where `<` and `<=` differ)")


def test_a_moved_boundary_that_ran_with_equal_sides_is_not_reported(tmp_path):
    # ``allocated - used < 3``: three objects wasted happens in compact-wide.
    cls = _load_class(tmp_path, "allocated - used < 3", "UnderThree")
    total = _compaction_coverage(cls)
    line = cls.zs_can_compact.__code__.co_firstlineno + 4
    assert f"ln:zs_can_compact:{line}:b0" in total
    assert lines_never_ran(cls, total) == []


def test_a_comparison_the_base_has_is_not_asked_to_meet_its_boundary(tmp_path):
    cls = _load_class(tmp_path, "allocated <= used and used >= 0", "Kept")
    line = cls.zs_can_compact.__code__.co_firstlineno + 4
    # only the new operand is watched: the kept one is the base's own
    assert instrumented(cls).__zsmc_boundaries__["zs_can_compact"] == [(line, 0, "used >= 0")]


def test_a_comparison_of_other_values_than_numbers_is_not_asked_to(tmp_path):
    cls = _load_class(tmp_path, "(allocated, 0) < (used, 1)", "Tuples")
    total = _compaction_coverage(cls)
    line = cls.zs_can_compact.__code__.co_firstlineno + 4
    assert f"ln:zs_can_compact:{line}:b0:n" in total
    assert not [e for _, entries in lines_never_ran(cls, total) for e in entries if ":b" in str(e[0])]


def test_watching_a_boundary_changes_no_count(tmp_path):
    # ``allocated < used + 1`` is upstream's ``allocated <= used``: the same executions.
    cls = _load_class(tmp_path, "allocated < used + 1", "Same")
    for scen in COMPACTIONS:
        got = explore(make_build(cls, scen, 1, 2)[0], properties=[])
        ref = explore(make_build(Upstream, scen, 1, 2)[0], properties=[])
        assert (got.executions, got.redundant) == (ref.executions, ref.redundant)


@pytest.mark.parametrize("cond,reported", [("allocated >= used + 9", True), ("allocated > used", False)])
def test_a_new_comparison_outside_a_condition_is_judged_too(tmp_path, cond, reported):
    # In a conditional expression of a return: no ``if`` statement, the same question.
    cls = _load_class(tmp_path, None, "Expr", _can_compact_expression(cond, "Expr"))
    total = _compaction_coverage(cls)
    line = cls.zs_can_compact.__code__.co_firstlineno + 4
    assert f"ln:zs_can_compact:{line}:b0:r" in total
    got = [k for _, entries in lines_never_ran(cls, total) for k, _ in entries]
    assert got == ([f"{line}:b0"] if reported else [])


class NewBugOn(Upstream):
    """free_zspage with a new BUG_ON (red team round 5, dec_zspage_isolation's
    ``VM_BUG_ON(isolated == 0)``): its condition is never true on a passing check, as the
    raise it guards is never reached; neither is a branch of the patch left unexplored.
    An ``if`` that does something else when true still has to go both ways."""

    def free_zspage(self, cls, zspage):
        yield zspage.obj.access()
        if zspage.inuse:
            raise AssertionError("VM_BUG_ON(get_zspage_inuse(zspage))")
        if zspage.magic != 0x58:
            raise AssertionError("a new BUG_ON")
        if not (yield from self.trylock_zspage(zspage)):
            yield from self.kick_deferred_free()
            return
        yield from self.remove_zspage(cls, zspage)
        yield from self._free_zspage(cls, zspage)


class NewBranch(NewBugOn):
    def free_zspage(self, cls, zspage):
        yield zspage.obj.access()
        if zspage.magic != 0x58:
            yield from self.kick_deferred_free()
        if not (yield from self.trylock_zspage(zspage)):
            yield from self.kick_deferred_free()
            return
        yield from self.remove_zspage(cls, zspage)
        yield from self._free_zspage(cls, zspage)


def test_a_new_bug_on_that_never_fires_is_no_branch_left_unexplored():
    r = explore(make_build(NewBugOn, "up-read-compact", 1)[0], properties=[])
    assert r.complete and any(k.startswith("ln:free_zspage:") for k in r.coverage)
    assert not lines_never_ran(NewBugOn, r.coverage)
    r = explore(make_build(NewBranch, "up-read-compact", 1)[0], properties=[])
    [(fn, entries)] = lines_never_ran(NewBranch, r.coverage)
    assert fn == "free_zspage" and entries[0][1].endswith("(its condition was never true)")


def test_a_missed_boundary_is_reported_as_such_with_a_way_to_take_it(tmp_path):
    path, spec = load(tmp_path, _can_compact("allocated >= 5", "AtLeastFive"), "AtLeastFive")
    res = check("--variant", spec, "--scenario", "read-compact", "--out", str(tmp_path / "t"))
    assert res.exit_code == 5, res.output
    line = next(ln for ln in res.output.splitlines() if "never ran:" in ln)
    assert "1 comparison boundary(ies) of zs_can_compact;" in line and "branch" not in line
    # the function ran: the hint names a scenario taking the boundary, or asks for one
    assert "takes it" in line or "runs it at depth" in line, line
    assert "(its comparison `allocated >= 5` never ran with both sides equal" in res.output



ON_CLOSE = """
from model import Upstream


class OnClose(Upstream):
    def zs_free(self, handle):
        done = False
        try:
            yield from Upstream.zs_free(self, handle)
            done = True
        finally:
            if not done:
                aborted = True   # runs only when zsmc closes an abandoned execution
"""


def test_a_line_run_only_while_an_abandoned_execution_is_closed_never_ran(tmp_path):
    # Executions cut short (sleep-set blocked, past --max-executions) leave tasks inside
    # zs_free; what a task runs while zsmc closes it is part of no execution.  Before, the
    # `finally` line was counted as run (read-migrate at depth 2 "ran" it, and the search
    # for where it runs said so).
    from model import coverage as cov
    from model import registry as reg
    _, spec = load(tmp_path, ON_CLOSE, "OnClose")
    cls = reg.load_variant(spec)          # make_build instruments it, as the CLI's check does
    line = next(n for n, text in enumerate(ON_CLOSE.splitlines(), 1) if "aborted = True" in text)
    for name, depth, cpus in [("read-migrate", 2, 2), ("read-migrate", 2, 1)]:
        r = explore(make_build(cls, name, depth, cpus)[0], properties=[], max_executions=300)
        assert r.redundant or not r.complete, (name, "no execution was abandoned: the test tests nothing")
        assert line_coverage.key("zs_free", line) not in r.coverage
        [(fn, entries)] = lines_never_ran(cls, r.coverage)
        assert fn == "zs_free" and line in [n for n, _ in entries], entries
    # ...and the hint's search for where it runs stays brief (it was minutes: every
    # scenario at two depths), saying it found it nowhere
    assert cov.where_it_runs(cls, "zs_free", 1, reg, [line], budget=400) is None
