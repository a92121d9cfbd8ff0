"""6.15 (c) zs_page_migrate makes rule 2 explicit ("writers are always atomic"): the whole
locked section runs with preemption disabled, as v5's writer did::

    preempt_disable();                         /* added */
    write_lock(&pool->lock);
    spin_lock(&class->lock);
    if (!zspage_write_trylock(zspage)) {
        spin_unlock(&class->lock);
        write_unlock(&pool->lock);
        preempt_enable();                      /* added */
        return -EINVAL;
    }
    ...
    write_unlock(&pool->lock);
    spin_unlock(&class->lock);
    zspage_write_unlock(zspage);
    preempt_enable();                          /* added */

Verdict from the protocol before running zsmc: a BUG on PREEMPT_RT only.  On !RT the section
is atomic anyway (spinning locks), so the extra preempt_disable changes nothing.  On RT
pool->lock (rwlock_t) and class->lock (spinlock_t) are sleeping locks: acquiring them inside
preempt_disable() is "sleeping function called from invalid context" (§4 #26: "acquire a
sleeping-on-RT lock inside an explicit preempt-disabled region"; §1 c: the spinlock-based
zspage lock "gives correct RT behaviour").
"""
from checker import Bug, label, preempt_disable, preempt_enable
from model import Upstream
from model.migrate import EINVAL, MIGRATEPAGE_SUCCESS


class MigratePreemptDisabled(Upstream):
    def zs_page_migrate(self, newpage, page):
        zspage = yield from self.get_zspage(page)
        if not page.isolated:
            raise Bug(f"zs_page_migrate: VM_BUG_ON_PAGE(!zpdesc_is_isolated({page.name}))")
        pool = self.pool
        yield preempt_disable()
        yield pool.lock.acquire()
        yield label("zs_page_migrate")
        cls = zspage.cls
        yield cls.lock.acquire()
        if not (yield from self.zspage_write_trylock(zspage)):
            yield cls.lock.release()
            yield pool.lock.release()
            yield preempt_enable()
            return -EINVAL
        yield newpage.desc.access(write=True)
        newpage.zsmalloc = True
        yield from self.copy_page_and_rewrite_handles(newpage, page)
        yield from self.replace_sub_page(cls, zspage, newpage, page)
        yield pool.lock.release()
        yield cls.lock.release()
        yield from self.zspage_write_unlock(zspage)
        yield preempt_enable()
        yield from self.zpdesc_get(newpage)
        yield from self.reset_zpdesc(page)
        yield from self.zpdesc_put(page)
        return MIGRATEPAGE_SUCCESS
