"""Prometheus metrics of callback delivery (served at ``/metrics`` and by a worker's
``--metrics-port``).

Attempts and their latency are counted by the process that makes them (a worker); the
backlog and the age of its oldest callback are read from the outbox when scraped, so every
process reports the same figures for them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.clock import clock
from pollhub.db.models import Notification
from pollhub.delivery.repository import DELIVERED, FAILED, PENDING, QUEUED, RETRYING

ATTEMPTS = Counter(
    "pollhub_delivery_attempts_total",
    "Callback delivery attempts by outcome (delivered, retrying, failed, queued)",
    ["outcome"],
)
# One child per outcome an attempt can end in, made once: each series is exported (at 0)
# from the start, and an attempt skips labels()'s lock and lookup.
ATTEMPTS_BY_OUTCOME = {
    status: ATTEMPTS.labels(status) for status in (DELIVERED, RETRYING, FAILED, QUEUED)
}
ATTEMPT_SECONDS = Histogram(
    "pollhub_delivery_attempt_seconds",
    "Time from sending a callback to its answer (or error)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BACKLOG = Gauge(
    "pollhub_delivery_backlog", "Callbacks waiting to be delivered (pending or retrying)"
)
OLDEST_PENDING = Gauge(
    "pollhub_delivery_oldest_pending_seconds",
    "Age of the oldest callback waiting to be delivered (0 when none waits)",
)


async def refresh_backlog(session: AsyncSession) -> None:
    """Set the backlog gauges from the outbox."""
    count, oldest = (
        await session.execute(
            select(func.count(), func.min(Notification.created_at)).where(
                Notification.status.in_((PENDING, RETRYING))
            )
        )
    ).one()
    BACKLOG.set(count)
    age = (clock.now() - oldest).total_seconds() if oldest is not None else 0.0
    OLDEST_PENDING.set(max(0.0, age))
