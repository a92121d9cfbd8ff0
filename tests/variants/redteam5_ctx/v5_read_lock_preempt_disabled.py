"""v5 zspage_read_lock spins and cmpxchg's with preemption disabled ("don't get preempted
between reading the counter and the cmpxchg; it only makes the cmpxchg fail more")::

    preempt_disable();
    do {
            while ((old = atomic_read_acquire(lock)) == ZS_PAGE_WRLOCKED)
                    cpu_relax();
    } while (!atomic_try_cmpxchg_acquire(lock, &old, old + 1));
    preempt_enable();

The reader holds nothing while it spins but its own preempt count; the writers it waits for
are atomic (rule 2) and, on its CPU, cannot be running while it spins, so they are on another
CPU and finish.  Nothing inside the section sleeps or takes a lock, on either configuration
(on RT the pool lock it is nested in was taken before).  Readers may still sleep after
the lock is taken (preemption is back on).  Verdict: not a bug.
"""
from checker import preempt_disable, preempt_enable
from model import V5
from model.zspage_lock import _not_wrlocked


class V5ReadLockPreemptDisabled(V5):
    def zspage_read_lock(self, zspage):
        zl = zspage.zl
        yield zl.dep_map.acquire(shared=True)
        yield preempt_disable()
        while True:
            old = yield zl.cnt.spin_until(_not_wrlocked, self.READ_LOCK_ORDER)
            seen = yield zl.cnt.cmpxchg(old, old + 1, self.READ_LOCK_ORDER)
            if seen == old:
                break
        yield preempt_enable()
