"""zspage_read_lock takes the inner spinlock with a trylock loop ("readers only need the
spinlock for an instant; avoid the lockdep and contention overhead of spin_lock")::

    rwsem_acquire_read(&zsl->dep_map, 0, 0, _RET_IP_);
    while (!spin_trylock(&zsl->lock))
            cpu_relax();
    zsl->cnt++;
    spin_unlock(&zsl->lock);

!PREEMPT_RT: the holders of zsl->lock (a writer for its whole section, a reader for an
instant) are atomic, so the busy-wait is bounded: same behaviour as spin_lock.  Not a bug.
PREEMPT_RT: zsl->lock is a sleeping, preemptible lock; a writer holding it (migration after
it dropped pool->lock and class->lock, §2.5 step 9; or lock_zspage meeting any writer) may
be preempted by a higher-priority reader on its CPU, which now spins instead of blocking
with priority inheritance: it never lets the writer run (hazard 14 "an RT-priority reader
on the writer's CPU"; §1 c: "readers that meet a writer ... on PREEMPT_RT, block with PI";
hazard 26).  Verdict: not a bug on !RT, a real bug on RT.
"""
from model import Upstream


class ZslReadTrylockLoop(Upstream):
    def zspage_read_lock(self, zspage):
        zsl = zspage.zl
        yield zsl.dep_map.acquire(shared=True)
        while not (yield zsl.lock.try_acquire()):
            pass
        yield zsl.cnt.add(1)
        yield zsl.lock.release()
