"""State a variant keeps outside the pool is refused, not trusted (model/hidden_state.py):
a module global, a class attribute, an enclosing function's variable or a module-level
container is invisible to the engine, so dpor would take two tasks sharing it as
independent and the next execution would start from what the last one left.  The way
out, ``self.pool.extra``, is shared memory the engine sees."""

from __future__ import annotations

import textwrap

import pytest
from clirun import run

from checker import explore
from checker.errors import ModelError, UsageError
from model import Upstream
from model import hidden_state
from model.registry import MUTATIONS, load_variant, make_build, variant_for

HEAD = "from checker import label\nfrom model import Upstream\n"


def write(tmp_path, body, name="patch.py", head=HEAD):
    path = tmp_path / name
    path.write_text(head + textwrap.dedent(body))
    return path


REFUSED = {
    "global": ("BUSY = False\n\nclass P(Upstream):\n    def zs_compact(self):\n        global BUSY\n"
               "        BUSY = True\n        return (yield from super().zs_compact())\n",
               "assigns module global BUSY"),
    "del global": ("X = 1\n\nclass P(Upstream):\n    def zs_free(self, handle):\n        global X\n"
                   "        del X\n        yield from super().zs_free(handle)\n", "deletes module global X"),
    "type(self)": ("class P(Upstream):\n    n = 0\n\n    def zs_free(self, handle):\n"
                   "        type(self).n += 1\n        yield from super().zs_free(handle)\n",
                   "assigns attribute n of its class"),
    "__class__": ("class P(Upstream):\n    n = 0\n\n    def zs_free(self, handle):\n"
                  "        self.__class__.n = 2\n        yield from super().zs_free(handle)\n",
                  "assigns attribute n of its class"),
    "class by name": ("class P(Upstream):\n    n = 0\n\n    def zs_free(self, handle):\n"
                      "        P.n += 1\n        yield from super().zs_free(handle)\n",
                      "assigns attribute n of class P"),
    "list": ("SEEN = []\n\nclass P(Upstream):\n    def zs_free(self, handle):\n"
             "        SEEN.append(handle)\n        yield from super().zs_free(handle)\n",
             "uses module-level list SEEN"),
    "dict item": ("STATE = {}\n\nclass P(Upstream):\n    def zs_free(self, handle):\n"
                  "        STATE['n'] = 1\n        yield from super().zs_free(handle)\n",
                  "uses module-level dict STATE"),
    "closure": ("def make():\n    n = 0\n\n    class P(Upstream):\n        def zs_free(self, handle):\n"
                "            nonlocal n\n            n += 1\n            yield from super().zs_free(handle)\n"
                "    return P\n\nP = make()\n", "assigns n, a variable of an enclosing function"),
    "helper function": ("def mark():\n    global HITS\n    HITS = 1\n\nclass P(Upstream):\n"
                        "    def zs_free(self, handle):\n        mark()\n"
                        "        yield from super().zs_free(handle)\n", "mark (patch.py:5) assigns module global HITS"),
    "nested function": ("class P(Upstream):\n    def zs_free(self, handle):\n        def inner():\n"
                        "            global Y\n            Y = 2\n        inner()\n"
                        "        yield from super().zs_free(handle)\n", "assigns module global Y"),
    # Red team round 4: a C static written as Python's own forms of one.
    "default argument": ("class P(Upstream):\n    def zs_free(self, handle, _last={}):\n"
                         "        _last['h'] = handle\n        yield from super().zs_free(handle)\n",
                         "keeps a dict in default argument _last from call to call"),
    "keyword default": ("class P(Upstream):\n    def zs_free(self, handle, *, seen=[]):\n"
                        "        seen.append(handle)\n        yield from super().zs_free(handle)\n",
                        "keeps a list in default argument seen from call to call"),
    "closure container": ("def make():\n    seen = set()\n\n    class P(Upstream):\n"
                          "        def zs_free(self, handle):\n            seen.add(handle)\n"
                          "            yield from super().zs_free(handle)\n    return P\n\nP = make()\n",
                          "keeps a set in closure variable seen from call to call"),
    "module-level object": ("import types\n\nS = types.SimpleNamespace(busy=False)\n\n"
                            "class P(Upstream):\n    def zs_compact(self):\n        S.busy = True\n"
                            "        return (yield from super().zs_compact())\n",
                            "assigns attribute busy of module-level SimpleNamespace S"),
}


@pytest.mark.parametrize("form", sorted(REFUSED))
def test_hidden_state_is_refused_at_load_in_one_line(form, tmp_path):
    body, words = REFUSED[form]
    path = write(tmp_path, body)
    with pytest.raises(UsageError, match="state outside the pool is invisible") as e:
        load_variant(f"{path}:P")
    assert words in str(e.value) and "self.pool.extra" in str(e.value)
    res = run("check", "--variant", f"{path}:P", "--scenario", "smoke", "--out", tmp_path / "out")
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert words in res.stderr and "Traceback" not in res.stderr


def test_a_helper_module_next_to_the_patch_is_followed(tmp_path):
    write(tmp_path, "N = [0]\n\n\ndef bump():\n    N[0] += 1\n", name="helper.py", head="")
    path = write(tmp_path, "import helper\n\nclass P(Upstream):\n    def zs_free(self, handle):\n"
                 "        helper.bump()\n        yield from super().zs_free(handle)\n", name="viahelper.py")
    with pytest.raises(UsageError, match=r"bump \(helper.py:5\) uses module-level list N"):
        load_variant(f"{path}:P")


def test_a_change_the_bytecode_test_cannot_see_is_caught_at_the_next_execution(tmp_path):
    # setattr on the class: no attribute store in the bytecode; the fingerprint of the
    # class's attributes, taken at the first build, differs at the second.
    path = write(tmp_path, "class P(Upstream):\n    def zs_free(self, handle):\n"
                 "        setattr(P, 'k', getattr(P, 'k', 0) + 1)\n        yield from super().zs_free(handle)\n")
    res = run("check", "--variant", f"{path}:P", "--scenario", "read-compact", "--cpus", "1",
              "--out", tmp_path / "out")
    assert res.exit_code == 2, res.stdout
    [line] = res.stderr.strip().splitlines()
    assert "attribute k of class P changed during an execution" in line and "self.pool.extra" in line


def test_the_fingerprint_reads_containers_by_content():
    class Q(Upstream):
        table = {"a": [1]}

    fp = hidden_state.Fingerprint(Q)
    fp.check()
    Q.table["a"].append(2)
    with pytest.raises(ModelError, match="attribute table of class Q changed"):
        fp.check()


def test_the_fingerprint_reads_a_module_level_objects_attributes(tmp_path):
    # A method call changes it: no attribute store in the variant's own bytecode.
    path = write(tmp_path, "import types\n\nS = types.SimpleNamespace(n=0)\n\nclass P(Upstream):\n"
                 "    def zs_free(self, handle):\n        vars(S).update(n=S.n + 1)\n"
                 "        yield from super().zs_free(handle)\n")
    res = run("check", "--variant", f"{path}:P", "--scenario", "read-compact", "--cpus", "1",
              "--out", tmp_path / "out")
    assert res.exit_code == 2, res.stdout
    [line] = res.stderr.strip().splitlines()
    assert "module global S of patch.py changed during an execution" in line, line


def test_a_program_that_is_not_deterministic_is_a_model_error():
    # Whatever hides the state (here a counter the build function keeps, which no
    # check of the variant's code sees), the same steps must do the same things.
    from checker import Program, Task, Var

    calls = []

    def build():
        calls.append(1)
        x, y = Var("x"), Var("y")
        odd = len(calls) % 2

        def a():
            yield (y if odd else x).write(1)
            yield x.write(2)

        def b():
            yield x.read()
        return Program([Task(a, "a", 0), Task(b, "b", 1)])
    with pytest.raises(ModelError, match="not deterministic: after the same 0 step"):
        explore(build, scheduler="dfs")


ALLOWED = """\
import types

LIMIT = 3
NAMES = ("a", "b")
TABLE = types.MappingProxyType({"x": 1})


def pure(n):
    return min(n, LIMIT)


class P(Upstream):
    SIZE = 2

    def zs_free(self, handle):
        self.seen = pure(len(NAMES) + TABLE["x"] + self.SIZE)     # self is the task's own
        yield from super().zs_free(handle)
"""


def test_constants_pure_helpers_and_the_tasks_own_object_are_allowed(tmp_path):
    path = write(tmp_path, ALLOWED)
    cls = load_variant(f"{path}:P")
    build, _ = make_build(cls, "read-compact", 1, 1)
    r = explore(build, stop_on_violation=True)
    assert r.complete and not r.violations


@pytest.mark.parametrize("name", sorted(n for n, m in MUTATIONS.items() if m.cls is not None))
def test_every_catalogue_mutation_keeps_its_state_in_the_pool(name):
    hidden_state.check_code(variant_for(MUTATIONS[name].base, name))


EXTRA = """\
class P(Upstream):
    '''compaction marks the pool busy under class->lock; a free that sees it is a BUG.'''

    def zs_compact(self):
        cls = self.pool.size_class[0]
        yield cls.lock.acquire()
        self.pool.extra["busy"] = True
        yield cls.lock.release()
        r = yield from super().zs_compact()
        yield cls.lock.acquire()
        self.pool.extra["busy"] = False
        yield cls.lock.release()
        return r

    def zs_free(self, handle):
        cls = self.pool.size_class[0]
        yield cls.lock.acquire()
        busy = self.pool.extra.get("busy", False)
        yield cls.lock.release()
        if busy:
            from checker import Bug
            raise Bug("zs_free while compaction runs")
        yield from super().zs_free(handle)
"""


def test_state_in_pool_extra_is_shared_memory_the_search_orders(tmp_path):
    # The flag is written by compaction and read by the freeing client, both under
    # class->lock: dpor explores both orders of the lock, so the free that sees the
    # flag is found; as a module global it was invisible (a pass dpor had not earned).
    path = write(tmp_path, EXTRA)
    build, _ = make_build(load_variant(f"{path}:P"), "read-compact", 1, 2)
    r = explore(build, properties=[], stop_on_violation=True)
    assert [v.property for v in r.violations] == ["bug"], r.reason
    assert "zs_free while compaction runs" in r.violations[0].message


def test_an_unlocked_access_to_pool_extra_is_a_data_race_named_by_function(tmp_path):
    path = write(tmp_path, "class P(Upstream):\n    def zs_compact(self):\n"
                 "        yield label('zs_compact')\n        self.pool.extra['busy'] = True\n"
                 "        return (yield from super().zs_compact())\n\n"
                 "    def zs_free(self, handle):\n        yield label('zs_free')\n"
                 "        self.pool.extra.get('busy')\n        yield from super().zs_free(handle)\n")
    build, _ = make_build(load_variant(f"{path}:P"), "read-compact", 1, 2)
    r = explore(build)
    text = " ".join([r.reason or ""] + [v.message for v in r.violations])
    assert "Pool.extra" in text and "zs_compact" in text and "zs_free" in text, text
