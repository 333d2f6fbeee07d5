"""When to try a failed callback again.

The original's schedule (reference section 5.3): up to 9 retries, retry *x* after
``4^x`` seconds — 4 s, 16 s, 64 s, ~4 min, ~17 min, ~68 min, ~4.6 h, ~18 h, ~73 h; about
four days from the first attempt to the last. pollhub keeps it, with ±20 % jitter so
callbacks that failed together (a receiver's outage) do not all come back in the same
second. ``POLLHUB_DELIVERY_MAX_RETRIES`` shortens or lengthens it; after the last retry the
notification is ``failed`` and kept for redelivery.

A ``Retry-After`` answer (seconds or an HTTP date) is honoured: the next try is never
earlier than it asks, and never later than the schedule's longest wait.
"""

from __future__ import annotations

import random
from datetime import datetime
from email.utils import parsedate_to_datetime

BASE = 4.0
JITTER = 0.2
LONGEST_WAIT_SECONDS = BASE**9


def retry_delay(retry_number: int, *, retry_after: float | None = None) -> float:
    """Seconds to wait before retry ``retry_number`` (1 for the first retry)."""
    delay = BASE ** min(retry_number, 9) * random.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        delay = max(delay, min(retry_after, LONGEST_WAIT_SECONDS))
    return delay


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """A ``Retry-After`` header as seconds from ``now``; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdecimal():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - now).total_seconds(), 0.0)
