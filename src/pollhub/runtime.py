"""Settings of a long-running pollhub process (``pollhub worker``, ``api`` and ``serve``)."""

from __future__ import annotations

import gc

# CPython collects its youngest generation every 700 net allocations, and each full
# collection walks every object the process holds — the modules, SQLAlchemy's and
# pydantic's structures. A dispatcher delivering 5,000 callbacks spent 260-320 ms of its
# ~1.5 s of CPU in collections (bench/delivery.py); with the objects built at startup
# frozen and 10,000 allocations per young collection, 15-20 ms.
YOUNG_COLLECTION_ALLOCATIONS = 10_000


def tune_garbage_collector() -> None:
    """Leave what startup built out of every later collection, and collect the youngest
    generation less often. Objects are still freed as soon as their last reference goes;
    only reference cycles wait a little longer."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_ALLOCATIONS, middle, old)
