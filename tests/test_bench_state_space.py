"""bench/state_space.py counts states, not traces: two orders that end alike are one state."""

from __future__ import annotations

from bench.state_space import StateKeys
from checker import Program, SpinLock, Task, explore


def test_two_orders_of_one_lock_end_in_one_state():
    def build():
        lk = SpinLock("l")

        def body():
            yield lk.acquire()
            yield lk.release()
        return Program([Task(body, "a", 0), Task(body, "b", 1)])

    m = StateKeys()
    r = explore(build, properties=[m])
    assert r.executions == 2 and r.complete
    # 4 steps per execution, none shared: 8 tree nodes.  States: the initial one and
    # one after each node, but both orders end in the same state.
    assert len(m.nodes) == 8
    assert len(m.states) == 1 + 8 - 1
    assert len(m.edges) == 8
