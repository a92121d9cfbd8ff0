"""A writer waiting for readers in any way is reported on every CPU count (issue 11 part 3).

Hazard 15 of the protocol document, as a reviewer might write it: the writer
waits for the reader count instead of trylocking, with ``spin_until`` on the
counter or with a read-retry loop.  Before, only the one-CPU deadlock showed it.
"""

from __future__ import annotations

import pytest

from checker import explore, label
from model.registry import make_build
from model.versions import VERSIONS, Upstream


def _free(v):
    return v == 0


class SpinOnCount(Upstream):
    def zspage_write_trylock(self, zspage):
        zsl = zspage.zl
        yield zsl.cnt.spin_until(_free)
        yield zsl.lock.acquire()
        yield zsl.cnt.write(-1)
        yield zsl.dep_map.try_acquire()
        return True


class RetryLoop(Upstream):
    def zspage_write_trylock(self, zspage):
        zsl = zspage.zl
        while (yield zsl.cnt.read()) != 0:
            yield label("cpu_relax")
        yield zsl.lock.acquire()
        yield zsl.cnt.write(-1)
        yield zsl.dep_map.try_acquire()
        return True


@pytest.mark.parametrize("variant", [SpinOnCount, RetryLoop], ids=["spin_until", "retry-loop"])
@pytest.mark.parametrize("cpus", [1, 2])
def test_a_writer_waiting_for_readers_is_reported(variant, cpus):
    build, _ = make_build(variant, "read-compact", 1, cpus)
    r = explore(build, properties=["writers-never-block"])
    assert r.violations, f"{variant.__name__} on {cpus} CPU(s)"
    msg = r.violations[0].message
    assert "spins waiting on zs2.zsl.cnt while holding rwlock_t pool->lock for write" in msg


@pytest.mark.parametrize("version", ["upstream", "v5"])
@pytest.mark.parametrize("scenario", ["read-compact", "compact-migrate", "read-migrate"])
def test_the_versions_writers_never_wait(version, scenario):
    for cpus in (1, 2):
        build, _ = make_build(VERSIONS[version], scenario, 1, cpus)
        r = explore(build, properties=["writers-never-block"], stop_on_violation=False)
        assert r.complete and not r.violations, r.violations[:1]
