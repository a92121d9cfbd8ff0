"""Mutations of catalogue entries the model cannot express, each with the reason (section 4:
#5, #8, #9, #10, #25).

See :mod:`model.mutations` for the conventions.
"""

from __future__ import annotations

from ._register import _inexpressible

# -- entries the model cannot express ---------------------------------------------------
_inexpressible(
    "pool-isolated-bitfield-race", "upstream", "pool-consistency",
    "zsmalloc: fix races between modifications of fullness and isolated, Andrew Yang, "
    "Jul/Aug 2023, 4b5d1e47b694", "#5: zspage->isolated updated by a non-atomic RMW of the fullness word",
    "the model keeps zspage fields as separate Python attributes (no shared header word) and "
    "has no zspage->isolated counter (removed in 6.9)")
_inexpressible(
    "destroy-pool-kicks-work", "upstream", "no-free-while-mapped",
    "mm/zsmalloc.c: fix race condition in zs_destroy_pool, Henry Burns, Aug 2019, 701d678599d0",
    "#8: kick_deferred_free after zs_destroy_pool's final flush_work",
    "the model has no zs_destroy_pool (pools live for the whole execution)")
_inexpressible(
    "read-updates-lru", "upstream", "pool-consistency",
    "zsmalloc: move LRU update from zs_map_object() to zs_malloc(), Nhat Pham, May 2023, d461aac924b9",
    "#9: the access path moves the zspage on a class list",
    "the zspage LRU that the bug corrupted was removed upstream and is not modelled")
_inexpressible(
    "deferred-handles-race", "upstream", "data-integrity",
    "zsmalloc: fix a race with deferred_handles storing, Nhat Pham, Jan 2023, 85b325815b56",
    "#10: zs_free overwrites the handle value before writeback reads it",
    "zsmalloc writeback (deferred_handles, zs_reclaim_page) was removed upstream and is not modelled")
_inexpressible(
    "writer-starvation", "upstream", "writers-never-block",
    "protocol §4 #25 (readers never wait for writers)",
    "#25: a stream of readers makes migration fail forever",
    "a liveness/fairness property, not a safety bug: executions are finite and the engine "
    "has no fairness requirement")
