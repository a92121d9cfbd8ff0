"""zspage_write_trylock makes the inner spinlock a trylock too ("a writer that finds zsl->lock
held by a reader counting itself in should fail, not spin")::

    if (!spin_trylock(&zsl->lock))
            return false;
    if (zsl->cnt == ZS_PAGE_UNLOCKED) { ... return true; }   /* still holding zsl->lock */
    spin_unlock(&zsl->lock);
    return false;

A trylock may fail more often; writers handle failure (rule 3: -EINVAL, compaction stops
the class).  Exclusion is unchanged.  On RT a spin_trylock of the rtmutex never sleeps.
Verdict: not a bug.
"""
from model import Upstream
from model.zspage_lock import ZS_PAGE_UNLOCKED, ZS_PAGE_WRLOCKED


class ZslWriteSpinTrylock(Upstream):
    def zspage_write_trylock(self, zspage):
        zsl = zspage.zl
        if not (yield zsl.lock.try_acquire()):
            return False
        cnt = yield zsl.cnt.read()
        if cnt == ZS_PAGE_UNLOCKED:
            yield zsl.cnt.write(ZS_PAGE_WRLOCKED)
            yield zsl.dep_map.try_acquire()
            return True
        yield zsl.lock.release()
        return False
