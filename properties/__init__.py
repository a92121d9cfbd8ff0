"""The built-in properties: one monitor per module, found by registry name.

``checker.monitor.REGISTRY`` maps each name to ``module:Class`` here; the
engine imports a module only when its property is selected, so ``checker``
never imports ``properties`` at load time (ARCHITECTURE.md section 4).

==========================  =============================  ======================================
name                        module                         hooks
==========================  =============================  ======================================
``no-free-while-mapped``    :mod:`.free_while_mapped`      on_event (ALLOC, FREE, ACCESS, PIN),
                                                           on_step_end (plain uses)
``writers-never-block``     :mod:`.writers_never_block`    on_pending
``lock-order``              :mod:`.lock_order`             on_pending (lock actions)
``irq-lock-state``          :mod:`.irq_lock_state`         on_pending (lock actions)
``sleep-in-atomic``         :mod:`.sleep_in_atomic`        on_pending
``deadlock``                :mod:`.deadlock`               on_deadlock
``data-integrity``          :mod:`.data_integrity`         on_pending (LABEL), on_execution_end
``pool-consistency``        :mod:`.pool_consistency`       on_event (RELEASE), on_execution_end
``lock-balance``            :mod:`.lock_balance`           on_task_finish
==========================  =============================  ======================================

Every monitor works on any program built with ``checker``; the ones that need
a model's help (``pool-consistency``, ``writers-never-block``, the end-of-run
part of ``data-integrity``) read it from ``Program.context`` through
``getattr`` with a default and say in ``applies()`` whether the program
provides it.  docs/properties.md explains each property in a kernel
reviewer's words.
"""

NAMES = (
    "no-free-while-mapped", "writers-never-block", "lock-order", "irq-lock-state", "sleep-in-atomic",
    "deadlock", "data-integrity", "pool-consistency", "lock-balance",
)
