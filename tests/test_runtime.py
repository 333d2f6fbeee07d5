"""A long-running process keeps the objects built at startup out of garbage collections and
collects its youngest generation less often (bench/delivery.py has the cost it saves)."""

from __future__ import annotations

import gc

from pollhub.runtime import YOUNG_COLLECTION_ALLOCATIONS, tune_garbage_collector


def test_tuning_freezes_what_startup_built_and_collects_young_objects_less_often() -> None:
    threshold = gc.get_threshold()
    try:
        tune_garbage_collector()

        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_COLLECTION_ALLOCATIONS, *threshold[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
