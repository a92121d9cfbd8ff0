"""v5 zs_map_object/zs_unmap_object: the per-CPU area is pinned with migrate_disable()
instead of local_lock ("the mapping only needs to stay on this CPU; don't disable
preemption for the whole mapping", the RT tree's old get_cpu_light())::

    migrate_disable();  area = this_cpu_ptr(&zs_map_area); ...   /* map */
    ... __zs_unmap_object(area, ...); migrate_enable();            /* unmap */

The task stays on its CPU but is preemptible between map and unmap on both configurations;
another task of the same CPU maps a spanning object into the same vm_buf and the first
unmap copies the other's bytes back ("we might get preempted, grab the same resource again
and then corrupt the memory": hazard 13, the reason for the 2016 local_lock).  (The engine's
tasks never change CPU: migrate_disable is nothing to model.)  Verdict: a real bug.
"""
from model import V5


class V5MapMigrateDisable(V5):
    def local_lock(self):
        if False:
            yield

    def local_unlock(self):
        if False:
            yield
